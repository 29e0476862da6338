package io.switchhead.tools.inspect;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * A parser for the part of Graphviz's DOT grammar (graphviz.org/doc/info/lang.html) the writer uses:
 * a digraph of node, edge and attribute statements, attribute lists, nested {@code subgraph}s; IDs
 * are names, numbers or double-quoted strings. No DOT parser is on this machine (no graphviz), so
 * the test parses by the grammar itself: a file this accepts, {@code dot} reads. Returns the node
 * IDs that carry a {@code label}, with their labels.
 */
final class DotGrammar {

  private static final Pattern TOKEN = Pattern.compile("\\s*(\"(?:[^\"\\\\]|\\\\.)*\"|->|[A-Za-z_][A-Za-z0-9_]*|-?\\d+(?:\\.\\d+)?|[{}\\[\\];,=])");

  private final List<String> tokens = new ArrayList<>();
  private int at;
  final List<String> labels = new ArrayList<>();

  private DotGrammar(String text) {
    Matcher m = TOKEN.matcher(text);
    int end = 0;
    while (m.find() && m.start() == end) {
      tokens.add(m.group(1));
      end = m.end();
    }
    assertTrue(text.substring(end).isBlank(), "not a DOT token at: " + text.substring(end, Math.min(text.length(), end + 40)));
  }

  /** Parses {@code digraph ID { stmt_list }} and returns the labels of its nodes. */
  static List<String> parse(String text) {
    DotGrammar p = new DotGrammar(text);
    p.expect("digraph");
    p.id();
    p.expect("{");
    p.statements();
    p.expect("}");
    assertEquals(p.tokens.size(), p.at, "text after the graph");
    return p.labels;
  }

  private void statements() {
    while (!peek().equals("}")) {
      statement();
      if (peek().equals(";")) {
        at++;
      }
    }
  }

  private void statement() {
    if (peek().equals("subgraph")) {
      at++;
      id();
      expect("{");
      statements();
      expect("}");
      return;
    }
    String first = id();
    if (List.of("graph", "node", "edge").contains(first)) {
      attributes();
      return;
    }
    if (peek().equals("=")) {
      at++;
      id();
      return;
    }
    while (peek().equals("->")) {
      at++;
      id();
    }
    if (peek().equals("[")) {
      String label = attributes();
      if (label != null) {
        labels.add(label);
      }
    }
  }

  /** {@code [ a=b, c=d ]}; returns the label's value, if one. */
  private String attributes() {
    String label = null;
    expect("[");
    while (!peek().equals("]")) {
      String key = id();
      expect("=");
      String value = id();
      if (key.equals("label")) {
        label = value;
      }
      if (peek().equals(",") || peek().equals(";")) {
        at++;
      }
    }
    expect("]");
    return label;
  }

  private String id() {
    String t = next();
    assertTrue(t.matches("\".*\"|[A-Za-z_][A-Za-z0-9_]*|-?\\d+(\\.\\d+)?"), "an ID expected, got " + t);
    return t.startsWith("\"") ? t.substring(1, t.length() - 1).replace("\\n", "\n").replace("\\\"", "\"") : t;
  }

  private void expect(String token) {
    String t = next();
    assertEquals(token, t, "at token " + (at - 1));
  }

  private String next() {
    assertTrue(at < tokens.size(), "the DOT text ends early");
    return tokens.get(at++);
  }

  private String peek() {
    assertTrue(at < tokens.size(), "the DOT text ends early");
    return tokens.get(at);
  }
}
