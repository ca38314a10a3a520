/**
 * DoS limits of the HTTP/2 engine, in one object. Every field names the attack it bounds and where its number
 * comes from. Budgets ("...Burst" + "...RatePerSecond") are token buckets driven by options.now(): a burst of that
 * many events is allowed, refilled at that rate. Exceeding any budget ends the connection with
 * GOAWAY(ENHANCE_YOUR_CALM). Real browsers, curl, nghttp and h2load stay far below every number here.
 */
import type { H2Limits } from './types.js';

export const DEFAULT_LIMITS: Readonly<H2Limits> = Object.freeze({
  /**
   * SETTINGS_MAX_CONCURRENT_STREAMS we advertise and enforce (RFC 9113 §5.1.2); more streams are refused with
   * RST_STREAM(REFUSED_STREAM). Bounds per-connection memory and handler fan-out. 100 is the RFC's recommended
   * minimum and what nghttp2 (nghttpx), h2o, Go net/http (250 max) and Apache ship in the same range.
   */
  maxConcurrentStreams: 100,
  /**
   * SETTINGS_MAX_HEADER_LIST_SIZE (RFC 9113 §6.5.2): decoded field section size (name + value + 32 per field).
   * Larger requests are answered 431 by the engine itself. Bounds HPACK-bomb expansion (CVE-2016-6581 family:
   * a few bytes of indexed references decoding to megabytes). 64 KiB = nghttp2's NGHTTP2_MAX_HEADER_LIST_SIZE
   * default used by nghttpx; Go uses 1 MiB + table, hyper 16 KiB.
   */
  maxHeaderListSize: 64 * 1024,
  /**
   * Encoded bytes of one header block (HEADERS + CONTINUATION fragments), checked BEFORE decoding, while the
   * fragments arrive. CONTINUATION flood (CVE-2024-27316 Apache, CVE-2024-27983 Node, CVE-2024-28182 nghttp2,
   * CVE-2023-45288 Go): endless fragments that are buffered without ever ending the block. An encoded block is never
   * much larger than its decoded list, so twice maxHeaderListSize is generous for legitimate peers.
   */
  maxHeaderBlockBytes: 128 * 1024,
  /**
   * CONTINUATION frames after one HEADERS (same flood family, including empty CONTINUATION frames that add no
   * bytes). nghttp2 >= 1.61 ships 8 (CVE-2024-28182 fix).
   */
  maxContinuationFrames: 8,
  /**
   * SETTINGS_HEADER_TABLE_SIZE we advertise: the HPACK dynamic table the peer may make us keep (RFC 7541 §4.2).
   * 4096 is the protocol default used by every implementation; larger tables only cost memory per connection.
   */
  headerTableSize: 4096,
  /**
   * Entries in one SETTINGS frame (each one is work, and repeated identifiers are legal). nghttp2 ships
   * NGHTTP2_DEFAULT_MAX_SETTINGS = 32 (CVE-2020-11080, SETTINGS flood with huge frames).
   */
  maxSettingsEntriesPerFrame: 32,
  /**
   * SETTINGS ACKs queued but not yet handed out by dataToSend(): a peer that floods SETTINGS while not reading
   * makes us buffer ACKs without bound (CVE-2019-9515 Settings flood). nghttp2 bounds its whole outbound control
   * queue at 1000 items (NGHTTP2_DEFAULT_MAX_OBQ_FLOOD_ITEM); no real client has more than one SETTINGS outstanding.
   */
  maxPendingSettingsAcks: 100,
  /** PING ACKs queued but not handed out (CVE-2019-9512 Ping flood). nghttp2's outbound flood limit: 1000. */
  maxPendingPingAcks: 1000,
  /**
   * Streams the peer resets (RST_STREAM) shortly after opening them: HTTP/2 Rapid Reset (CVE-2023-44487) makes the
   * server start work it never has to finish. nghttp2 >= 1.57 ships burst 1000, 33 per second.
   */
  rapidResetBurst: 1000,
  rapidResetRatePerSecond: 33,
  /**
   * Resets the ENGINE sends because of peer errors (malformed requests, flow-control and state violations):
   * MadeYouReset (CVE-2025-8671) provokes server-side resets to get the same effect as Rapid Reset without sending
   * RST_STREAM. nghttp2 counts such peer errors in its "glitch" token bucket with the same 1000 / 33 per second
   * shape; REFUSED_STREAM and the engine's own 431 answers count here too.
   */
  serverResetBurst: 1000,
  serverResetRatePerSecond: 33,
  /**
   * Empty and tiny frames that carry no progress: zero-length DATA without END_STREAM, empty header fragments
   * (CVE-2019-9518 Empty Frames flood; nghttp2 and Go count such "glitches"). Browsers never send them in bulk.
   */
  emptyFrameBurst: 1000,
  emptyFrameRatePerSecond: 100,
  /**
   * Control frames that cost work without moving data: PING and PING ACK, SETTINGS and SETTINGS ACK (after the
   * first), GOAWAY, PRIORITY, PRIORITY_UPDATE, unknown frame types, WINDOW_UPDATE and RST_STREAM for closed streams
   * (CVE-2019-9513 Resource loop via PRIORITY,
   * CVE-2019-9512/9515 floods). Go's x/net bounds queued control frames at 10000; browsers send a handful per
   * request, far below 2000 at once and 500 per second sustained.
   */
  controlFrameBurst: 2000,
  controlFrameRatePerSecond: 500,
  /**
   * Closed streams remembered to classify late frames (RFC 9113 §5.1 "closed": ignore frames after our RST_STREAM,
   * stream vs connection errors). Bounds memory of a connection that churns through streams; older ids are
   * treated as closed long ago.
   */
  maxClosedStreamsRemembered: 1000,
  /**
   * Output bytes queued inside the engine (bufferedBytes) above which the driver stops reading from the socket:
   * a peer that sends requests but does not read responses (slow read, CVE-2019-9517 Internal data buffering)
   * cannot make us buffer without bound.
   */
  outputHighWaterMark: 1024 * 1024,
  /** Per-stream queued response bytes above which sendData() returns false (backpressure to the application). */
  streamHighWaterMark: 64 * 1024,
  /**
   * Milliseconds the peer has to acknowledge our SETTINGS before the connection fails with SETTINGS_TIMEOUT
   * (RFC 9113 §6.5.3). A peer that never acknowledges may be ignoring our limits. Clients acknowledge at once; the
   * margin covers slow links and busy peers.
   */
  settingsAckTimeout: 10_000,
  /**
   * Milliseconds the graceful shutdown waits for the answer to its PING before sending the final GOAWAY anyway
   * (RFC 9113 §6.8: the PING measures one round trip, so requests in flight when the first GOAWAY left are accepted).
   */
  shutdownPingTimeout: 1000,
});

/** DEFAULT_LIMITS with a partial override; rejects negative or non-numeric values early (programming errors). */
export function resolveLimits(overrides: Partial<H2Limits> | undefined): H2Limits {
  const limits: H2Limits = { ...DEFAULT_LIMITS };
  if (overrides !== undefined) {
    for (const key of Object.keys(overrides)) {
      const value = overrides[key];
      if (value === undefined) continue;
      if (typeof value !== 'number' || Number.isNaN(value) || value < 0) {
        throw new RangeError(`h2 limit ${key} must be a non-negative number, got ${String(value)}`);
      }
      limits[key] = value;
    }
  }
  return limits;
}
