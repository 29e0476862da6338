package io.switchhead.graph.layers;

import org.tensorflow.types.family.TFloating;

/** A decoding call's attention result and the importance its queries give the window's tokens (for dynamic k). */
record DecodedWithImportance<T extends TFloating>(Decoded<T> decoded, TokenImportance<T> importance) {}
