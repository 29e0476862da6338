package io.switchhead.graph.config;

/** How attention sees positions (SWITCHHEAD.md section 2). */
public enum Positional {
  /** Rotary encoding on half of each head's channels; no memory. */
  ROPE,
  /** Transformer-XL relative sinusoids with a projection, and the previous chunk as memory. */
  XL
}
