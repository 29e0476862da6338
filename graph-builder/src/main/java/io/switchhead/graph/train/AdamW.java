package io.switchhead.graph.train;

import static com.google.common.base.Preconditions.checkArgument;

import com.google.common.collect.ImmutableList;
import io.switchhead.graph.params.ParamStore;
import java.util.ArrayList;
import java.util.List;
import org.tensorflow.Operand;
import org.tensorflow.op.Op;
import org.tensorflow.op.Ops;
import org.tensorflow.op.core.Variable;
import org.tensorflow.op.train.ApplyAdam;
import org.tensorflow.types.TFloat32;

/**
 * Adam with decoupled weight decay (Loshchilov and Hutter), as graph ops over the store's variables.
 * Not tensorflow-framework's optimizers: they differentiate every VariableV2 in the graph (their own
 * slots included) and bake the learning rate in as a constant, so no schedule is possible.
 *
 * <p>Per parameter {@code path}: slots {@code path/adam_m} and {@code path/adam_v} (zeros). The
 * learning rate and the bias corrections (beta^t) are fed each step, so the schedule and the step
 * count live in Java and in the checkpoint, not in hidden graph state.
 *
 * @param beta1 first-moment decay (0.9)
 * @param beta2 second-moment decay (0.999)
 * @param epsilon (1e-8)
 * @param weightDecay decoupled decay per unit learning rate (the paper uses 0: plain Adam)
 */
public record AdamW(double beta1, double beta2, double epsilon, double weightDecay) {

  public AdamW {
    checkArgument(beta1 >= 0 && beta1 < 1, "beta1 (%s) must be in [0, 1)", beta1);
    checkArgument(beta2 >= 0 && beta2 < 1, "beta2 (%s) must be in [0, 1)", beta2);
    checkArgument(epsilon > 0, "epsilon (%s) must be positive", epsilon);
    checkArgument(weightDecay >= 0, "weight decay (%s) must be >= 0", weightDecay);
  }

  /** The paper's settings with the given decay. */
  public static AdamW paper(double weightDecay) {
    return new AdamW(0.9, 0.999, 1e-8, weightDecay);
  }

  /** The names of a parameter's slots, {@code path/adam_m} and {@code path/adam_v}. */
  public static final List<String> SLOTS = List.of("adam_m", "adam_v");

  /** The moment slots of every parameter, made once and shared by every update path. */
  public record Slots(List<Variable<TFloat32>> m, List<Variable<TFloat32>> v) {}

  /** Creates the slots {@code path/adam_m} and {@code path/adam_v} of every parameter. */
  public static Slots slots(ParamStore store) {
    List<Variable<TFloat32>> m = new ArrayList<>();
    List<Variable<TFloat32>> v = new ArrayList<>();
    for (ParamStore.Param p : store.params()) {
      m.add(store.slot(p, SLOTS.get(0)));
      v.add(store.slot(p, SLOTS.get(1)));
    }
    return new Slots(ImmutableList.copyOf(m), ImmutableList.copyOf(v));
  }

  /** The values fed each step. */
  public record StepInputs(Operand<TFloat32> learningRate, Operand<TFloat32> beta1Power, Operand<TFloat32> beta2Power) {}

  /**
   * The update ops: one per parameter, each decaying then applying Adam.
   *
   * @param gradients one per parameter of {@code store}, in its order (already clipped)
   * @param after ops every update must wait for (e.g. the finite-gradient check)
   */
  @SuppressWarnings("unchecked")
  public List<Op> updates(Ops tf, ParamStore store, Slots slots, List<Operand<TFloat32>> gradients, StepInputs in, List<Op> after) {
    ImmutableList<ParamStore.Param> params = store.params();
    checkArgument(params.size() == gradients.size(), "%s parameters but %s gradients", params.size(), gradients.size());
    Ops guarded = after.isEmpty() ? tf : tf.withControlDependencies(after);
    Operand<TFloat32> b1 = tf.constant((float) beta1);
    Operand<TFloat32> b2 = tf.constant((float) beta2);
    Operand<TFloat32> eps = tf.constant((float) epsilon);
    List<Op> updates = new ArrayList<>();
    for (int i = 0; i < params.size(); i++) {
      ParamStore.Param p = params.get(i);
      checkArgument(p.variable() != null, "AdamW updates variables; parameter '%s' is not one", p.spec().path());
      Variable<TFloat32> variable = (Variable<TFloat32>) p.variable();
      Variable<TFloat32> m = slots.m().get(i);
      Variable<TFloat32> v = slots.v().get(i);
      Ops step = guarded;
      if (weightDecay > 0) {
        Operand<TFloat32> decay = tf.math.mul(tf.math.mul(in.learningRate(), tf.constant((float) weightDecay)), (Operand<TFloat32>) p.value());
        step = guarded.withControlDependencies(List.of(guarded.assignSub(variable, decay)));
      }
      updates.add(step.train.applyAdam(variable, m, v, in.beta1Power(), in.beta2Power(), in.learningRate(), b1, b2, eps,
          gradients.get(i), ApplyAdam.useLocking(false)));
    }
    return updates;
  }
}
