package io.switchhead.ops.moe;

/** Training or inference: expert dropout (and, in layers, dropout) acts only in training. */
public enum Mode {
  TRAIN,
  EVAL
}
