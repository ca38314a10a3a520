/**
 * Frame tracing (the CLI's --trace-frames): turns raw frames into TracedFrame objects and one-line text.
 * Only used when options.onFrame is set, so none of this costs anything on the normal path.
 */
import type { HeaderList, TracedFrame } from './types.js';
import { FrameType } from './types.js';
import {
  FrameError,
  decodeFramePayload,
  errorCodeName,
  flagNames,
  frameTypeName,
  latin1,
  settingName,
} from './frames.js';

function hex(bytes: Uint8Array, max = 16): string {
  let s = '';
  const n = Math.min(bytes.length, max);
  for (let i = 0; i < n; i++) s += bytes[i]!.toString(16).padStart(2, '0');
  return bytes.length > max ? `${s}…` : s;
}

/** Decodes a frame for the trace hook; `headers` is attached by the connection once a field block is decoded. */
export function traceFrame(
  type: number,
  flags: number,
  streamId: number,
  payload: Uint8Array,
  headers?: HeaderList,
): TracedFrame {
  const fields: Record<string, unknown> = {};
  try {
    const f = decodeFramePayload({ length: payload.length, type, flags, streamId, payload });
    switch (f.type) {
      case 'DATA':
        fields.dataLength = f.data.length;
        if (f.padLength) fields.padLength = f.padLength;
        break;
      case 'HEADERS':
        fields.fragmentLength = f.fragment.length;
        if (f.padLength) fields.padLength = f.padLength;
        if (f.priority) fields.priority = f.priority;
        break;
      case 'PRIORITY':
        fields.priority = f.priority;
        break;
      case 'RST_STREAM':
        fields.errorCode = errorCodeName(f.errorCode);
        break;
      case 'SETTINGS': {
        const settings: Record<string, number> = {};
        for (const [id, value] of f.settings) settings[settingName(id)] = value;
        fields.settings = settings;
        break;
      }
      case 'PUSH_PROMISE':
        fields.promisedStreamId = f.promisedStreamId;
        break;
      case 'PING':
        fields.opaque = hex(f.opaque);
        break;
      case 'GOAWAY':
        fields.lastStreamId = f.lastStreamId;
        fields.errorCode = errorCodeName(f.errorCode);
        if (f.debugData.length) fields.debugData = latin1(f.debugData, 0, Math.min(f.debugData.length, 256));
        break;
      case 'WINDOW_UPDATE':
        fields.increment = f.increment;
        break;
      case 'CONTINUATION':
        fields.fragmentLength = f.fragment.length;
        break;
      case 'PRIORITY_UPDATE':
        fields.prioritizedStreamId = f.prioritizedStreamId;
        fields.value = f.value;
        break;
      case 'UNKNOWN':
        fields.payload = hex(f.payload);
        break;
    }
  } catch (error) {
    if (!(error instanceof FrameError)) throw error;
    fields.invalid = `${errorCodeName(error.code)}: ${error.message}`;
    if (type === FrameType.WINDOW_UPDATE && payload.length === 4) fields.increment = 0;
  }
  if (headers !== undefined) fields.headers = headers;
  return { type, typeName: frameTypeName(type), flags, streamId, length: payload.length, fields };
}

/**
 * One line per frame, in the spirit of `nghttp -v`:
 *   recv HEADERS frame <length=30, flags=0x25 (END_STREAM|END_HEADERS|PRIORITY), stream_id=1> :method: GET; ...
 */
export function formatFrame(direction: 'in' | 'out', frame: TracedFrame): string {
  const names = flagNames(frame.type, frame.flags);
  const flagText = `0x${frame.flags.toString(16).padStart(2, '0')}${names.length ? ` (${names.join('|')})` : ''}`;
  let line = `${direction === 'in' ? 'recv' : 'send'} ${frame.typeName} frame <length=${frame.length}, flags=${flagText}, stream_id=${frame.streamId}>`;
  const parts: string[] = [];
  for (const [key, value] of Object.entries(frame.fields)) {
    if (key === 'headers') continue;
    if (key === 'settings' && value && typeof value === 'object') {
      const entries = Object.entries(value as Record<string, number>).map(([k, v]) => `${k}=${v}`);
      parts.push(`settings=[${entries.join(', ')}]`);
    } else if (key === 'priority' && value && typeof value === 'object') {
      const p = value as { exclusive: boolean; dependency: number; weight: number };
      parts.push(`priority=(dep=${p.dependency}, weight=${p.weight}, exclusive=${p.exclusive ? 1 : 0})`);
    } else {
      parts.push(`${key}=${typeof value === 'string' ? value : JSON.stringify(value)}`);
    }
  }
  if (parts.length) line += ` ${parts.join(' ')}`;
  const headers = frame.fields.headers as HeaderList | undefined;
  if (headers !== undefined) {
    const shown: string[] = [];
    for (let i = 0; i + 1 < headers.length; i += 2) shown.push(`${headers[i]}: ${headers[i + 1]}`);
    line += ` | ${shown.join('; ')}`;
  }
  return line;
}
