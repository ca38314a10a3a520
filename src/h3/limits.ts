/**
 * DoS limits of the HTTP/3 engine, in one object (the shape of src/h2/limits.ts). Every field names the attack it
 * bounds. Budgets ("...Burst" + "...RatePerSecond") are token buckets driven by options.now(): a burst of that many
 * events, refilled at that rate; exceeding one ends the connection with H3_EXCESSIVE_LOAD (RFC 9114 §10.5).
 */
export interface H3Limits {
  maxFieldSectionSize: number;
  qpackMaxTableCapacity: number;
  qpackBlockedStreams: number;
  maxConcurrentRequestStreams: number;
  maxUnidirectionalStreams: number;
  maxBufferedFrameBytes: number;
  controlFrameBurst: number;
  controlFrameRatePerSecond: number;
  encoderInstructionBurst: number;
  encoderInstructionRatePerSecond: number;
  rapidResetBurst: number;
  rapidResetRatePerSecond: number;
  streamErrorBurst: number;
  streamErrorRatePerSecond: number;
  emptyFrameBurst: number;
  emptyFrameRatePerSecond: number;
  [extra: string]: number;
}

export const DEFAULT_H3_LIMITS: Readonly<H3Limits> = Object.freeze({
  /**
   * SETTINGS_MAX_FIELD_SECTION_SIZE we advertise (RFC 9114 §4.2.2, §7.2.4.1): decoded size of a field section
   * (name + value + 32 per field). The QPACK decoder stops the moment a section passes it, so a QPACK bomb (a few
   * bytes of references to a large dynamic entry) costs at most this much; the request is answered 431. Same 64 KiB as
   * the HTTP/2 engine's maxHeaderListSize.
   */
  maxFieldSectionSize: 64 * 1024,
  /**
   * SETTINGS_QPACK_MAX_TABLE_CAPACITY (RFC 9204 §5): memory the peer's encoder can make us hold per connection.
   * 4096 matches HPACK's default and what browsers use.
   */
  qpackMaxTableCapacity: 4096,
  /**
   * SETTINGS_QPACK_BLOCKED_STREAMS (RFC 9204 §2.1.2): streams whose field sections wait for encoder-stream inserts.
   * Each holds its encoded section in memory; one more is QPACK_DECOMPRESSION_FAILED.
   */
  qpackBlockedStreams: 16,
  /**
   * Request streams open at once. Enforced by QUIC (initial_max_streams_bidi, RFC 9000 §4.6: the peer cannot open
   * more): give this value to the QUIC layer. The engine checks again and refuses extra streams with
   * H3_REQUEST_REJECTED, so a misconfigured transport cannot fan out unbounded handler work.
   */
  maxConcurrentRequestStreams: 100,
  /**
   * Peer-initiated unidirectional streams tracked at once: the three critical ones plus any unknown/reserved ones we
   * are ignoring (RFC 9114 §6.2: "grease" streams). Also what to give QUIC's initial_max_streams_uni. More is
   * H3_EXCESSIVE_LOAD: bounds per-stream state for a peer opening endless junk streams.
   */
  maxUnidirectionalStreams: 16,
  /**
   * Bytes of one incomplete non-DATA frame buffered per stream (HEADERS, SETTINGS, PRIORITY_UPDATE, ...). Bounds the
   * memory of a peer announcing a huge frame and trickling it (the HTTP/3 form of the CONTINUATION flood,
   * CVE-2024-27316 family). Twice maxFieldSectionSize leaves room for any legitimate encoded section.
   */
  maxBufferedFrameBytes: 128 * 1024,
  /**
   * Frames on the peer's control stream (PRIORITY_UPDATE, GOAWAY, MAX_PUSH_ID, unknown types): each costs work and
   * moves no data (PRIORITY_UPDATE flood, the HTTP/3 form of CVE-2019-9513 / CVE-2019-9515). Browsers send one
   * PRIORITY_UPDATE per re-prioritisation, far below these numbers.
   */
  controlFrameBurst: 2000,
  controlFrameRatePerSecond: 500,
  /**
   * Instructions on the peer's QPACK encoder stream: inserts and duplicates churn our table without sending any
   * request (table-churn flood). Browsers insert a few entries per request.
   */
  encoderInstructionBurst: 10000,
  encoderInstructionRatePerSecond: 5000,
  /**
   * Request streams the peer resets before we answered them: HTTP/2 Rapid Reset (CVE-2023-44487) carried over to
   * HTTP/3, where RESET_STREAM starts server work that is never finished. Same shape as the HTTP/2 engine (nghttp2:
   * 1000 burst, 33 per second).
   */
  rapidResetBurst: 1000,
  rapidResetRatePerSecond: 33,
  /**
   * Streams the ENGINE resets because of peer errors (malformed requests, content-length mismatches, incomplete
   * requests): MadeYouReset (CVE-2025-8671) provokes server-side resets to get Rapid Reset's effect without sending
   * RESET_STREAM. Same shape as the HTTP/2 engine's serverReset budget (nghttp2's glitch counter).
   */
  streamErrorBurst: 1000,
  streamErrorRatePerSecond: 33,
  /**
   * Frames on request streams that carry no progress: unknown/reserved types (which RFC 9114 §9 says to skip) and
   * empty DATA frames. The engine returns their bytes to flow control at once, so without a budget a peer could make
   * us parse junk forever (the HTTP/3 form of CVE-2019-9518, Empty Frames flood). Same numbers as the HTTP/2 engine.
   */
  emptyFrameBurst: 1000,
  emptyFrameRatePerSecond: 100,
});

/** DEFAULT_H3_LIMITS with a partial override; rejects negative or non-numeric values early (programming errors). */
export function resolveH3Limits(overrides: Partial<H3Limits> | undefined): H3Limits {
  const limits: H3Limits = { ...DEFAULT_H3_LIMITS };
  for (const [key, value] of Object.entries(overrides ?? {})) {
    if (value === undefined) continue;
    if (typeof value !== 'number' || Number.isNaN(value) || value < 0) {
      throw new RangeError(`h3 limit ${key} must be a non-negative number, got ${String(value)}`);
    }
    limits[key] = value;
  }
  return limits;
}
