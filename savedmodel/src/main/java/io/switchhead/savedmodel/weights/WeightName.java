package io.switchhead.savedmodel.weights;

import org.tensorflow.ndarray.Shape;

/**
 * Where one parameter goes in a safetensors file.
 *
 * @param path the project's parameter path ({@code layers/0/attention/q})
 * @param shape the project's shape
 * @param name the tensor's name in the file ({@code layers.0.attention.q.weight})
 * @param fileShape the tensor's shape in the file
 * @param layout how the file's elements are ordered against the project's
 */
public record WeightName(String path, Shape shape, String name, Shape fileShape, Layout layout) {}
