package io.prestacop.storage;

import java.nio.charset.StandardCharsets;
import org.apache.spark.sql.api.java.UDF1;
import org.apache.spark.sql.api.java.UDF5;

/**
 * The stored line of a well-formed T1 ticket value, in one pass over its bytes; null otherwise.
 *
 * <p>Registered by stream-storage as {@code prestacop_t1_stored_line} (see
 * {@code prestacop_stream_storage.transform}, which owns the layout facts and hands the field
 * count in as an argument). Arguments: the Kafka value's bytes, its topic, partition and offset,
 * and the number of ticket fields a value must hold.
 *
 * <p>Well-formed means: {@code T1,}, a {@code YYYY-MM-DD} calendar day of years 0001-9999 (as
 * the encoder writes them; no lenient resolving of 2016-02-30 to 2016-02-29), a comma, then
 * exactly {@code fields} CSV fields and nothing after them. A field is bare (no {@code "}, CR or LF, up to the next comma) or
 * quoted ({@code "}, any bytes with inner quotes doubled, {@code "}, then a comma or the end).
 * The scan works on bytes: the four bytes it looks for are ASCII, and no byte of a multi-byte
 * UTF-8 character is ASCII, so it agrees with a scan over the decoded characters.
 *
 * <p>The line returned is the value's ticket fields, then {@code ,<topic>,<partition>,<offset>}:
 * the stored row, in the stored column order, with where it came from. One new array per
 * value, no decoding: Spark writes the bytes as they are.
 */
public final class T1StoredLine implements UDF5<byte[], String, Integer, Long, Integer, byte[]> {

  private static final long serialVersionUID = 1L;

  /** {@code T1,YYYY-MM-DD,}: the ticket fields start at this byte. */
  static final int FIELDS_OFFSET = 14;

  @Override
  public byte[] call(byte[] value, String topic, Integer partition, Long offset, Integer fields) {
    if (value == null || !dayFits(value) || !fieldsFit(value, fields)) {
      return null;
    }
    byte[] source = (topic + "," + partition + "," + offset).getBytes(StandardCharsets.UTF_8);
    int body = value.length - FIELDS_OFFSET;
    byte[] line = new byte[body + 1 + source.length];
    System.arraycopy(value, FIELDS_OFFSET, line, 0, body);
    line[body] = ',';
    System.arraycopy(source, 0, line, body + 1, source.length);
    return line;
  }

  private static boolean digit(byte b) {
    return b >= '0' && b <= '9';
  }

  private static int number(byte[] v, int from, int to) {
    int n = 0;
    for (int i = from; i < to; i++) {
      n = n * 10 + (v[i] - '0');
    }
    return n;
  }

  /**
   * {@code T1,}, then a {@code YYYY-MM-DD} that is a day of the proleptic Gregorian calendar in
   * years 0001-9999, then a comma. Also used alone ({@link DayFits}) to tell a bad date from bad
   * fields when a value is rejected.
   */
  static boolean dayFits(byte[] v) {
    if (v == null || v.length < FIELDS_OFFSET
        || v[0] != 'T' || v[1] != '1' || v[2] != ','
        || !digit(v[3]) || !digit(v[4]) || !digit(v[5]) || !digit(v[6]) || v[7] != '-'
        || !digit(v[8]) || !digit(v[9]) || v[10] != '-'
        || !digit(v[11]) || !digit(v[12]) || v[13] != ',') {
      return false;
    }
    int year = number(v, 3, 7);
    int month = number(v, 8, 10);
    int day = number(v, 11, 13);
    if (year < 1 || month < 1 || month > 12 || day < 1) {
      return false;
    }
    boolean leap = year % 4 == 0 && (year % 100 != 0 || year % 400 == 0);
    int last = month == 2 ? (leap ? 29 : 28) : (month == 4 || month == 6 || month == 9 || month == 11) ? 30 : 31;
    return day <= last;
  }

  /** {@link #dayFits} as a Spark function ({@code prestacop_t1_day_fits}). */
  public static final class DayFits implements UDF1<byte[], Boolean> {
    private static final long serialVersionUID = 1L;

    @Override
    public Boolean call(byte[] value) {
      return dayFits(value);
    }
  }

  /** Exactly {@code expected} CSV fields from {@link #FIELDS_OFFSET} to the end. */
  static boolean fieldsFit(byte[] v, int expected) {
    int n = v.length;
    int i = FIELDS_OFFSET;
    int count = 1;
    while (true) {
      if (i < n && v[i] == '"') {
        i++;
        while (true) {
          if (i >= n) {
            return false; // the quote never closes
          }
          if (v[i] == '"') {
            if (i + 1 < n && v[i + 1] == '"') {
              i += 2; // a doubled quote inside the field
              continue;
            }
            i++;
            break;
          }
          i++;
        }
      } else {
        while (i < n && v[i] != ',') {
          byte b = v[i];
          if (b == '"' || b == '\r' || b == '\n') {
            return false; // a quote out of place, or a line break outside quotes
          }
          i++;
        }
      }
      if (i == n) {
        return count == expected;
      }
      if (v[i] != ',' || count == expected) {
        return false; // bytes after a closing quote, or one field too many
      }
      count++;
      i++;
    }
  }
}
