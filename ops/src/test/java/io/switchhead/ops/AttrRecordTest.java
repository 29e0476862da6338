package io.switchhead.ops;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Optional;
import org.junit.jupiter.api.Test;

/** The one format of the gradients' config attributes: what is written reads back, and bad text is named. */
class AttrRecordTest {

  private static final AttrRecord LOOP =
      AttrRecord.builder().putString("body", "loop_body_3f2a").putLong("macsPerTrip", 1L << 40).build();

  @Test
  void everyKindOfFieldAndNestedRecordsReadBack() {
    String encoded =
        AttrRecord.builder()
            .putInt("rows", -7)
            .putBoolean("slots", true)
            .putString("name", "")
            .putRecord("spill", AttrRecord.builder().putInt("block", 32).putOptionalRecord("loop", Optional.of(LOOP)).build())
            .putOptionalRecord("capacityLoop", Optional.empty())
            .build()
            .encode();

    assertEquals("rows=-7,slots=true,name=,spill.block=32,spill.loop.body=loop_body_3f2a,spill.loop.macsPerTrip=1099511627776", encoded);
    AttrRecord r = AttrRecord.decode("test config", encoded);
    assertEquals(-7, r.getInt("rows"));
    assertTrue(r.getBoolean("slots"));
    assertEquals("", r.getString("name"));
    AttrRecord spill = r.record("spill");
    assertEquals(32, spill.getInt("block"));
    assertEquals(LOOP.encode(), spill.optionalRecord("loop").orElseThrow().encode());
    assertEquals(1L << 40, spill.record("loop").getLong("macsPerTrip"));
    assertFalse(r.optionalRecord("capacityLoop").isPresent(), "an empty optional record writes nothing");
    assertEquals("", AttrRecord.decode("empty", "").encode());
  }

  @Test
  void aMissingOrMalformedFieldIsNamedWithItsRecord() {
    AttrRecord r = AttrRecord.decode("switchhead.Test config", "rows=8,slots=yes,spill.block=many");

    assertNamed(() -> r.getInt("dIn"), "switchhead.Test config", "missing key dIn", "rows=8");
    assertNamed(() -> r.getBoolean("slots"), "slots must be true or false", "'yes'");
    assertNamed(() -> r.record("spill").getInt("block"), "spill.block must be an int", "'many'");
    assertNamed(() -> r.record("spill").getLong("loop"), "missing key spill.loop");
    assertNamed(() -> r.record("loop"), "missing record loop");
    assertNamed(() -> AttrRecord.decode("cfg", "rows=8,slots"), "cfg", "field 'slots' is not key=value");
    assertNamed(() -> AttrRecord.decode("cfg", "rows=8,rows=9"), "key rows given twice");
  }

  @Test
  void valuesThatWouldNotReadBackAreRefusedWhenWritten() {
    assertNamed(() -> AttrRecord.builder().putString("name", "a,b"), "value of name", "a,b");
    assertNamed(() -> AttrRecord.builder().putInt("2rows", 1), "key must match", "2rows");
    assertNamed(() -> AttrRecord.builder().putInt("k", 1).putInt("k", 2), "key k given twice");
  }

  private static void assertNamed(Runnable r, String... parts) {
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class, r::run);
    for (String part : parts) {
      assertTrue(e.getMessage().contains(part), "'" + part + "' in: " + e.getMessage());
    }
  }
}
