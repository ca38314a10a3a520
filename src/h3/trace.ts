/**
 * Frame tracing for HTTP/3 (the CLI's --trace-frames), in the spirit of src/h2/trace.ts and `nghttp -v`:
 *   recv HEADERS frame <length=30, stream_id=0> | :method: GET; :path: /
 * Only used when options.onFrame is set.
 */
import { h3ErrorCodeName } from './errors.js';
import { FrameType, decodeIdPayload, decodePriorityUpdatePayload, decodeSettingsPayload, frameTypeName, settingName } from './frames.js';
import type { FieldList, TracedH3Frame } from './types.js';

function hex(bytes: Uint8Array, max = 16): string {
  let s = '';
  for (let i = 0; i < Math.min(bytes.length, max); i++) s += bytes[i]!.toString(16).padStart(2, '0');
  return bytes.length > max ? `${s}…` : s;
}

/**
 * Decodes a frame for the trace hook. `payload` is the whole payload for buffered frames; for DATA and unknown types
 * it is not available (streamed), so only the length is shown. `headers` is attached once a field section is decoded.
 */
export function traceFrame(type: number, streamId: number, length: number, payload: Uint8Array | null, headers?: FieldList): TracedH3Frame {
  const fields: Record<string, unknown> = {};
  if (payload !== null) {
    try {
      switch (type) {
        case FrameType.SETTINGS: {
          const settings: Record<string, number> = {};
          for (const [id, value] of decodeSettingsPayload(payload)) settings[settingName(id)] = value;
          fields.settings = settings;
          break;
        }
        case FrameType.GOAWAY:
        case FrameType.MAX_PUSH_ID:
        case FrameType.CANCEL_PUSH:
          fields.id = decodeIdPayload(payload, frameTypeName(type));
          break;
        case FrameType.PRIORITY_UPDATE_REQUEST:
        case FrameType.PRIORITY_UPDATE_PUSH: {
          const update = decodePriorityUpdatePayload(payload);
          fields.prioritizedElementId = update.elementId;
          fields.value = update.value;
          break;
        }
        case FrameType.HEADERS:
        case FrameType.PUSH_PROMISE:
          fields.fieldSectionLength = payload.length;
          break;
        default:
          fields.payload = hex(payload);
      }
    } catch (error) {
      fields.invalid = error instanceof Error && 'code' in error ? `${h3ErrorCodeName(error.code as number)}: ${error.message}` : String(error);
    }
  } else if (type === FrameType.DATA) {
    fields.dataLength = length;
  }
  if (headers !== undefined) fields.headers = headers;
  return { type, typeName: frameTypeName(type), streamId, length, fields };
}

/** One line per frame. */
export function formatFrame(direction: 'in' | 'out', frame: TracedH3Frame): string {
  let line = `${direction === 'in' ? 'recv' : 'send'} ${frame.typeName} frame <length=${frame.length}, stream_id=${frame.streamId}>`;
  const parts: string[] = [];
  for (const [key, value] of Object.entries(frame.fields)) {
    if (key === 'headers') continue;
    if (key === 'settings' && value !== null && typeof value === 'object') {
      parts.push(`settings=[${Object.entries(value as Record<string, number>).map(([k, v]) => `${k}=${v}`).join(', ')}]`);
    } else {
      parts.push(`${key}=${typeof value === 'string' ? value : JSON.stringify(value)}`);
    }
  }
  if (parts.length > 0) line += ` ${parts.join(' ')}`;
  const headers = frame.fields.headers as FieldList | undefined;
  if (headers !== undefined) {
    const shown: string[] = [];
    for (let i = 0; i + 1 < headers.length; i += 2) shown.push(`${headers[i]}: ${headers[i + 1]}`);
    line += ` | ${shown.join('; ')}`;
  }
  return line;
}
