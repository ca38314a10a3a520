/** Defaults of the HTTP/1.1 engine's limits; each field's attack is documented in types.ts (H1Limits). */
import type { H1Limits } from './types.js';

export const DEFAULT_H1_LIMITS: Readonly<H1Limits> = Object.freeze({
  maxHeadBytes: 64 * 1024,
  maxHeadContentBytes: Number.POSITIVE_INFINITY,
  maxTargetBytes: 16 * 1024,
  maxFields: 200,
  maxChunkExtensionBytes: 4096,
  maxPipelineBytes: 256 * 1024,
  maxDiscardBytes: 1024 * 1024,
  maxLeadingEmptyLines: 4,
});
