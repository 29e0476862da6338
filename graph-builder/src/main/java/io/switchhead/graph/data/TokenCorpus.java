package io.switchhead.graph.data;

import static com.google.common.base.Preconditions.checkArgument;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * uint16 token files ({@code .bin}): the last {@value Corpus#VALIDATION_PERCENT}% of each file (at
 * least one token) is validation; several files are concatenated in the order given.
 */
final class TokenCorpus {

  private TokenCorpus() {}

  /** @param warnings reported with the corpus */
  static Corpus read(String source, List<Path> files, List<String> warnings) {
    List<TokenArray> train = new ArrayList<>();
    List<TokenArray> validation = new ArrayList<>();
    int maxToken = -1;
    for (Path file : files) {
      Uint16Tokens all = Uint16Tokens.map(file);
      checkArgument(all.length() >= 2, "%s: a token file needs at least 2 tokens, has %s", file, all.length());
      long split = all.length() - Math.max(1, all.length() * Corpus.VALIDATION_PERCENT / 100);
      train.add(all.slice(0, split));
      validation.add(all.slice(split, all.length()));
      maxToken = Math.max(maxToken, all.maxToken());
    }
    return new Corpus(source, ConcatenatedTokens.of(train), ConcatenatedTokens.of(validation), maxToken + 1, warnings);
  }
}
