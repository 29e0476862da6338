package io.switchhead.graph.config;

/**
 * What every layer of a model takes from the model config besides its own: the residual width D
 * (input and output width of every layer), the init scale s (std s/sqrt(fan-in)) and the dropout rate.
 */
public record ModelDims(int dModel, double initScale, double dropout) {}
