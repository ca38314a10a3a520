/**
 * The stream state machine of RFC 9113 §5.1 as tables: what a received frame does in each state, and what each side's
 * END_STREAM does to a state. A server without push never uses the "reserved" states. "Closed" is split by how the
 * stream closed, because §5.1 prescribes different reactions to late frames for each.
 */

export const STREAM_IDLE = 0;
export const STREAM_OPEN = 1;
/** We sent END_STREAM; the peer may still send. */
export const STREAM_HALF_CLOSED_LOCAL = 2;
/** The peer sent END_STREAM; we are still responding. */
export const STREAM_HALF_CLOSED_REMOTE = 3;
/** Both sides ended normally (the peer's END_STREAM was received). */
export const STREAM_CLOSED = 4;
export const STREAM_CLOSED_RESET_BY_PEER = 5;
/** We sent RST_STREAM (or refused/ignored the stream): late frames are ignored (§5.1). */
export const STREAM_CLOSED_RESET_BY_US = 6;
/** Closed so long ago it was forgotten (beyond maxClosedStreamsRemembered), or skipped over (§5.1.1). */
export const STREAM_CLOSED_FORGOTTEN = 7;
const STATE_COUNT = 8;

// Received frame kinds the table distinguishes (the other frame types are not about a stream).
export const RECV_DATA = 0;
export const RECV_HEADERS = 1;
export const RECV_RST_STREAM = 2;
export const RECV_WINDOW_UPDATE = 3;
export const RECV_PRIORITY = 4;
const KIND_COUNT = 5;

// Reactions to a received frame.
export const ALLOW = 0;
export const IGNORE = 1;
export const STREAM_ERROR_STREAM_CLOSED = 2;
export const CONNECTION_ERROR_STREAM_CLOSED = 3;
export const CONNECTION_ERROR_PROTOCOL = 4;

/** RFC 9113 §5.1 as a table, built once: RECEIVE_RULES[state * KIND_COUNT + kind]. */
const RECEIVE_RULES = (() => {
  const t = new Uint8Array(STATE_COUNT * KIND_COUNT);
  const set = (state: number, rules: [number, number, number, number, number]) => {
    for (let kind = 0; kind < KIND_COUNT; kind++) t[state * KIND_COUNT + kind] = rules[kind]!;
  };
  //                        DATA                             HEADERS                          RST_STREAM  WINDOW_UPDATE PRIORITY
  // §5.1 idle: only HEADERS and PRIORITY; anything else is a connection PROTOCOL_ERROR.
  set(STREAM_IDLE, [CONNECTION_ERROR_PROTOCOL, ALLOW, CONNECTION_ERROR_PROTOCOL, CONNECTION_ERROR_PROTOCOL, ALLOW]);
  set(STREAM_OPEN, [ALLOW, ALLOW, ALLOW, ALLOW, ALLOW]);
  // §5.1 half-closed (local): the peer may send any frame.
  set(STREAM_HALF_CLOSED_LOCAL, [ALLOW, ALLOW, ALLOW, ALLOW, ALLOW]);
  // §5.1 half-closed (remote): frames other than WINDOW_UPDATE, PRIORITY, RST_STREAM → stream error STREAM_CLOSED.
  set(STREAM_HALF_CLOSED_REMOTE, [STREAM_ERROR_STREAM_CLOSED, STREAM_ERROR_STREAM_CLOSED, ALLOW, ALLOW, ALLOW]);
  // §5.1 closed: frames after the peer's END_STREAM → connection error STREAM_CLOSED; WINDOW_UPDATE/RST_STREAM can
  // legitimately arrive shortly after our END_STREAM and are ignored; PRIORITY is allowed in every state.
  set(STREAM_CLOSED, [CONNECTION_ERROR_STREAM_CLOSED, CONNECTION_ERROR_STREAM_CLOSED, IGNORE, IGNORE, IGNORE]);
  // §5.1 closed: after receiving RST_STREAM, frames other than PRIORITY → stream error STREAM_CLOSED.
  set(STREAM_CLOSED_RESET_BY_PEER, [STREAM_ERROR_STREAM_CLOSED, STREAM_ERROR_STREAM_CLOSED, IGNORE, IGNORE, IGNORE]);
  // §5.1 closed: "An endpoint MUST ignore frames that it receives on closed streams after it has sent a RST_STREAM".
  set(STREAM_CLOSED_RESET_BY_US, [IGNORE, IGNORE, IGNORE, IGNORE, IGNORE]);
  // Forgotten or skipped: DATA becomes a stream error (as Go and nghttp2 do); a HEADERS frame would reuse or go
  // back below a used id (§5.1.1: connection PROTOCOL_ERROR).
  set(STREAM_CLOSED_FORGOTTEN, [STREAM_ERROR_STREAM_CLOSED, CONNECTION_ERROR_PROTOCOL, IGNORE, IGNORE, IGNORE]);
  return t;
})();

/** The reaction to receiving a frame of `kind` (RECV_*) on a stream in `state` (STREAM_*). */
export function receiveReaction(state: number, kind: number): number {
  return RECEIVE_RULES[state * KIND_COUNT + kind]!;
}

/** What our END_STREAM and the peer's END_STREAM do to a state (RFC 9113 §5.1 transitions), indexed by state. */
const AFTER_LOCAL_END = new Uint8Array([
  STREAM_IDLE,
  STREAM_HALF_CLOSED_LOCAL,
  STREAM_HALF_CLOSED_LOCAL,
  STREAM_CLOSED,
  STREAM_CLOSED,
  STREAM_CLOSED_RESET_BY_PEER,
  STREAM_CLOSED_RESET_BY_US,
  STREAM_CLOSED_FORGOTTEN,
]);
const AFTER_REMOTE_END = new Uint8Array([
  STREAM_IDLE,
  STREAM_HALF_CLOSED_REMOTE,
  STREAM_CLOSED,
  STREAM_HALF_CLOSED_REMOTE,
  STREAM_CLOSED,
  STREAM_CLOSED_RESET_BY_PEER,
  STREAM_CLOSED_RESET_BY_US,
  STREAM_CLOSED_FORGOTTEN,
]);

export function afterLocalEnd(state: number): number {
  return AFTER_LOCAL_END[state]!;
}

export function afterRemoteEnd(state: number): number {
  return AFTER_REMOTE_END[state]!;
}

/** We may still send frames on the stream (RFC 9113 §5.1: open or half-closed (remote)). */
export function canSend(state: number): boolean {
  return state === STREAM_OPEN || state === STREAM_HALF_CLOSED_REMOTE;
}

/** The peer may still send DATA, so a stream WINDOW_UPDATE is useful (open or half-closed (local), §6.9). */
export function canReceive(state: number): boolean {
  return state === STREAM_OPEN || state === STREAM_HALF_CLOSED_LOCAL;
}
