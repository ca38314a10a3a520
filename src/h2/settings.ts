/**
 * SETTINGS (RFC 9113 §6.5): the peer's initial values, checks of received values, our SETTINGS entries, and the
 * negotiation of our own settings (sent, not yet acknowledged, acknowledged; RFC 9113 §6.5.3).
 */
import { DEFAULT_INITIAL_WINDOW_SIZE, MAX_MAX_FRAME_SIZE, MAX_WINDOW_SIZE, MIN_MAX_FRAME_SIZE } from './frames.js';
import type { Settings } from './types.js';
import { ErrorCode, SettingId } from './types.js';

/** RFC 9113 §6.5.2 initial values: what the peer's settings are until its SETTINGS frame says otherwise. */
export function defaultRemoteSettings(): Settings {
  return {
    headerTableSize: 4096,
    enablePush: true,
    maxConcurrentStreams: Infinity,
    initialWindowSize: DEFAULT_INITIAL_WINDOW_SIZE,
    maxFrameSize: MIN_MAX_FRAME_SIZE,
    maxHeaderListSize: Infinity,
    enableConnectProtocol: false,
  };
}

/** A received setting value that is a connection error, or null. */
export interface SettingError {
  code: number;
  message: string;
}

/** RFC 9113 §6.5.2 (and RFC 8441 §3, RFC 9218 §2.1): the range of each received setting. */
export function remoteSettingError(id: number, value: number): SettingError | null {
  switch (id) {
    case SettingId.ENABLE_PUSH:
      // RFC 9113 §6.5.2: only 0 or 1.
      return value > 1 ? { code: ErrorCode.PROTOCOL_ERROR, message: 'SETTINGS_ENABLE_PUSH not 0 or 1' } : null;
    case SettingId.INITIAL_WINDOW_SIZE:
      // RFC 9113 §6.5.2: above 2^31-1 is a connection FLOW_CONTROL_ERROR.
      return value > MAX_WINDOW_SIZE ? { code: ErrorCode.FLOW_CONTROL_ERROR, message: 'SETTINGS_INITIAL_WINDOW_SIZE too large' } : null;
    case SettingId.MAX_FRAME_SIZE:
      // RFC 9113 §6.5.2: 2^14..2^24-1, else connection PROTOCOL_ERROR.
      return value < MIN_MAX_FRAME_SIZE || value > MAX_MAX_FRAME_SIZE
        ? { code: ErrorCode.PROTOCOL_ERROR, message: 'SETTINGS_MAX_FRAME_SIZE out of range' }
        : null;
    case SettingId.ENABLE_CONNECT_PROTOCOL:
      // RFC 8441 §3: 0 or 1.
      return value > 1 ? { code: ErrorCode.PROTOCOL_ERROR, message: 'SETTINGS_ENABLE_CONNECT_PROTOCOL not 0 or 1' } : null;
    case SettingId.NO_RFC7540_PRIORITIES:
      // RFC 9218 §2.1: 0 or 1.
      return value > 1 ? { code: ErrorCode.PROTOCOL_ERROR, message: 'SETTINGS_NO_RFC7540_PRIORITIES not 0 or 1' } : null;
    default:
      return null;
  }
}

/** Our settings must be sendable: a programming error otherwise. */
export function validateLocalSettings(s: Settings): void {
  if (!Number.isInteger(s.initialWindowSize) || s.initialWindowSize < 0 || s.initialWindowSize > MAX_WINDOW_SIZE) {
    throw new RangeError(`initialWindowSize must be an integer in 0..2^31-1, got ${s.initialWindowSize}`);
  }
  if (!Number.isInteger(s.maxFrameSize) || s.maxFrameSize < MIN_MAX_FRAME_SIZE || s.maxFrameSize > MAX_MAX_FRAME_SIZE) {
    throw new RangeError(`maxFrameSize must be an integer in 2^14..2^24-1, got ${s.maxFrameSize}`);
  }
  if (s.enablePush) throw new RangeError('a server cannot enable push (RFC 9113 §6.5.2)');
}

/** SETTINGS entries for our settings; `initial` sends the full set (defaults omitted), otherwise the given keys. */
export function settingsEntries(s: Partial<Settings>, initial: boolean): Array<[number, number]> {
  const entries: Array<[number, number]> = [];
  const finite = (v: number) => Math.min(v, 0xffffffff);
  if (s.headerTableSize !== undefined && (!initial || s.headerTableSize !== 4096)) {
    entries.push([SettingId.HEADER_TABLE_SIZE, s.headerTableSize]);
  }
  if (s.maxConcurrentStreams !== undefined && Number.isFinite(s.maxConcurrentStreams)) {
    entries.push([SettingId.MAX_CONCURRENT_STREAMS, finite(s.maxConcurrentStreams)]);
  }
  if (s.initialWindowSize !== undefined && (!initial || s.initialWindowSize !== DEFAULT_INITIAL_WINDOW_SIZE)) {
    entries.push([SettingId.INITIAL_WINDOW_SIZE, s.initialWindowSize]);
  }
  if (s.maxFrameSize !== undefined && (!initial || s.maxFrameSize !== MIN_MAX_FRAME_SIZE)) {
    entries.push([SettingId.MAX_FRAME_SIZE, s.maxFrameSize]);
  }
  if (s.maxHeaderListSize !== undefined && Number.isFinite(s.maxHeaderListSize)) {
    entries.push([SettingId.MAX_HEADER_LIST_SIZE, finite(s.maxHeaderListSize)]);
  }
  if (s.enableConnectProtocol) entries.push([SettingId.ENABLE_CONNECT_PROTOCOL, 1]);
  if (initial) entries.push([SettingId.NO_RFC7540_PRIORITIES, 1]);
  return entries;
}

/**
 * Our SETTINGS frames in flight (RFC 9113 §6.5.3): each is acknowledged in order. Until the peer acknowledges a
 * change it may use the old or the new value, so the receive-side limits are the largest of the acknowledged and
 * the pending values; decreases take effect on the ACK.
 */
export class LocalSettingsNegotiation {
  private pending: Array<{ settings: Partial<Settings>; sentAt: number }> = [];
  /** Our receive-side settings as the peer has acknowledged them (RFC 9113 §6.5.2 defaults until the first ACK). */
  private readonly acked = { initialWindowSize: DEFAULT_INITIAL_WINDOW_SIZE, maxFrameSize: MIN_MAX_FRAME_SIZE };

  /** A SETTINGS frame carrying `settings` went into the output at `now`. */
  sent(settings: Partial<Settings>, now: number): void {
    this.pending.push({ settings: { ...settings }, sentAt: now });
  }

  /** The peer's SETTINGS ACK: the oldest pending frame is now in force (undefined if none was pending). */
  acknowledge(): Partial<Settings> | undefined {
    const entry = this.pending.shift();
    if (entry === undefined) return undefined;
    // An empty array literal has no element store: the usual case (one SETTINGS, acknowledged) keeps nothing.
    if (this.pending.length === 0) this.pending = [];
    const acked = entry.settings;
    if (acked.initialWindowSize !== undefined) this.acked.initialWindowSize = acked.initialWindowSize;
    if (acked.maxFrameSize !== undefined) this.acked.maxFrameSize = acked.maxFrameSize;
    return acked;
  }

  /** When the oldest unacknowledged SETTINGS frame was sent (for the §6.5.3 ACK timeout), or undefined. */
  get oldestUnackedSentAt(): number | undefined {
    return this.pending[0]?.sentAt;
  }

  /** Initial stream receive window we enforce: the largest of the acknowledged and pending values. */
  get receiveInitialWindowSize(): number {
    return this.largest('initialWindowSize');
  }

  /** Largest frame we accept: the acknowledged SETTINGS_MAX_FRAME_SIZE or a larger pending one. */
  get receiveMaxFrameSize(): number {
    return this.largest('maxFrameSize');
  }

  private largest(key: 'initialWindowSize' | 'maxFrameSize'): number {
    let largest = this.acked[key];
    for (const entry of this.pending) {
      const value = entry.settings[key];
      if (value !== undefined && value > largest) largest = value;
    }
    return largest;
  }
}
