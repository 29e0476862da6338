package io.switchhead.graph.train;

import static com.google.common.base.Preconditions.checkArgument;

import com.google.common.collect.ImmutableList;
import io.switchhead.graph.params.ParamStore;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import org.tensorflow.Operand;
import org.tensorflow.op.Op;
import org.tensorflow.op.Ops;
import org.tensorflow.op.core.Variable;
import org.tensorflow.op.train.ApplyAdam;
import org.tensorflow.types.TFloat32;
import org.tensorflow.types.TInt32;

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
  public List<Op> updates(Ops tf, ParamStore store, Slots slots, List<Operand<TFloat32>> gradients, StepInputs in, List<Op> after) {
    return updates(tf, store, slots, gradients, Collections.nCopies(gradients.size(), null), in, after);
  }

  /**
   * The update ops, lazily for the parameters with rows: a table whose gradient is nonzero only at
   * some rows (the rows a PEER layer retrieved) gets its decay, moments and Adam step at those rows
   * only, by gather and scatter ("lazy Adam", as TensorFlow Addons' LazyAdam). This differs from
   * dense AdamW: an untouched row keeps its weights and moments, where dense AdamW would decay the
   * row's moments, keep moving it by its old momentum and decay its weights every step; a row
   * touched again sees moments that skipped the steps between. It costs O(rows read) per step
   * instead of O(table).
   *
   * @param rows per parameter, null for a dense update, or the distinct rows [U] its gradient [U,
   *     width] is of
   */
  @SuppressWarnings("unchecked")
  public List<Op> updates(Ops tf, ParamStore store, Slots slots, List<Operand<TFloat32>> gradients, List<Operand<TInt32>> rows,
      StepInputs in, List<Op> after) {
    ImmutableList<ParamStore.Param> params = store.params();
    checkArgument(params.size() == gradients.size(), "%s parameters but %s gradients", params.size(), gradients.size());
    checkArgument(rows.size() == gradients.size(), "%s gradients but %s row lists", gradients.size(), rows.size());
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
      if (rows.get(i) != null) {
        updates.addAll(lazyUpdate(guarded, variable, m, v, gradients.get(i), rows.get(i), in));
        continue;
      }
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

  /** ApplyAdam's arithmetic (and the decoupled decay before it) at {@code rows} only, by gather and scatter. */
  private List<Op> lazyUpdate(Ops tf, Variable<TFloat32> variable, Variable<TFloat32> m, Variable<TFloat32> v,
      Operand<TFloat32> g, Operand<TInt32> rows, StepInputs in) {
    Operand<TFloat32> one = tf.constant(1f);
    Operand<TFloat32> b1 = tf.constant((float) beta1);
    Operand<TFloat32> b2 = tf.constant((float) beta2);
    // Gathers copy the rows, so the scatters below cannot change what they read.
    Operand<TFloat32> w0 = tf.gather(tf.identity(variable), rows, tf.constant(0)); // [U, width]
    Operand<TFloat32> m0 = tf.gather(tf.identity(m), rows, tf.constant(0));
    Operand<TFloat32> v0 = tf.gather(tf.identity(v), rows, tf.constant(0));
    Operand<TFloat32> m1 = tf.math.add(tf.math.mul(b1, m0), tf.math.mul(tf.math.sub(one, b1), g));
    Operand<TFloat32> v1 = tf.math.add(tf.math.mul(b2, v0), tf.math.mul(tf.math.sub(one, b2), tf.math.square(g)));
    // lr_t = lr * sqrt(1 - beta2^t) / (1 - beta1^t), as ApplyAdam computes it.
    Operand<TFloat32> lrT = tf.math.div(tf.math.mul(in.learningRate(), tf.math.sqrt(tf.math.sub(one, in.beta2Power()))),
        tf.math.sub(one, in.beta1Power()));
    Operand<TFloat32> decayed = weightDecay > 0
        ? tf.math.sub(w0, tf.math.mul(tf.math.mul(in.learningRate(), tf.constant((float) weightDecay)), w0))
        : w0;
    Operand<TFloat32> step = tf.math.div(tf.math.mul(lrT, m1), tf.math.add(tf.math.sqrt(v1), tf.constant((float) epsilon)));
    Operand<TFloat32> w1 = tf.math.sub(decayed, step);
    return List.of(tf.scatterUpdate(m, rows, m1), tf.scatterUpdate(v, rows, v1), tf.scatterUpdate(variable, rows, w1));
  }
}
