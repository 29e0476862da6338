package io.switchhead.tools.inspect;

import com.google.common.collect.ImmutableList;
import java.nio.file.Path;

/**
 * What a routing inspection measured and drew.
 *
 * @param checkpoint the checkpoint directory whose model ran
 * @param text the text file it ran over
 * @param tokens the text's tokens (bytes)
 * @param usage every head of every selection, in the model's order
 * @param pictures the files written, PNG and SVG of each picture
 */
public record RoutingSummary(Path checkpoint, Path text, int tokens, ImmutableList<HeadUsage> usage, ImmutableList<Path> pictures) {}
