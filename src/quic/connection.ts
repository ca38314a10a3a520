/**
 * The sans-IO QUIC v1 connection (RFC 9000, 9001, 9002): datagrams in, events out, datagrams to send out, timers as
 * data. Module map: packet.ts (headers), protection.ts (keys), frames.ts, transport-parameters.ts, recovery.ts
 * (loss detection, NewReno, pacer), stream.ts / stream-sender.ts / reassembly.ts / flow-control.ts (streams),
 * connection-ids.ts. This file holds the state machine that ties them together.
 */
import { BufferWriter, bytesEqual, concatBytes } from './buffer.js';
import { LocalConnectionIds, PeerConnectionIds } from './connection-ids.js';
import type { CryptoProvider } from './crypto.js';
import { QuicError, TransportError } from './errors.js';
import { ReceiveWindow } from './flow-control.js';
import { cryptoFrameOverhead, decodeFrames, encodeFrame, isAckEliciting, streamFrameOverhead } from './frames.js';
import type { AckFrame, Frame } from './frames.js';
import { DEFAULT_QUIC_LIMITS } from './limits.js';
import type { QuicLimits } from './limits.js';
import {
  encodeLongHeader, encodeShortHeader, MIN_INITIAL_DATAGRAM, packetNumberLength, parsePacketHeader, QUIC_VERSION_1, verifyRetry,
} from './packet.js';
import type { PacketHeader } from './packet.js';
import { AEAD_TAG_LENGTH, directionKeys, HeaderProtectionBatch, initialKeys, PacketKey, protectPacket, removeHeaderProtection } from './protection.js';
import type { DirectionKeys } from './protection.js';
import { BASE_PLPMTU, BLACK_HOLE_PTOS, PathMtu } from './pmtud.js';
import type { PmtuState } from './pmtud.js';
import { RangeSet } from './rangeset.js';
import { INITIAL_RTT, isPersistentCongestion, NewReno, PACKET_THRESHOLD, Pacer, RttEstimator } from './recovery.js';
import type { CongestionController, SentFrameRecord, SentPacket } from './recovery.js';
import { Cubic } from './cubic.js';
import { ReassemblyBuffer } from './reassembly.js';
import { isClientInitiated, isUnidirectional, QuicStream } from './stream.js';
import { SendBuffer } from './stream-sender.js';
import { cipherSuiteName } from './tls-interface.js';
import type { CipherSuite, EncryptionLevel, QuicTls, TlsEvent } from './tls-interface.js';
import { authenticateConnectionIds, decodeTransportParameters, DEFAULT_TRANSPORT_PARAMETERS, encodeTransportParameters } from './transport-parameters.js';
import type { TransportParameters } from './transport-parameters.js';
import { sameAddress } from './types.js';
import type { PacketTrace, PathAddress, QuicConnectionOptions, QuicEvent } from './types.js';

type SpaceName = 'initial' | 'handshake' | 'application';
const SPACE_NAMES: readonly SpaceName[] = ['initial', 'handshake', 'application'];

/** One packet-number space (RFC 9000 §12.3) with its keys, CRYPTO streams and loss-recovery state. */
class PacketSpace {
  read: DirectionKeys | undefined;
  write: DirectionKeys | undefined;
  discarded = false;
  nextPacketNumber = 0;
  largestAcked: number | undefined;
  readonly sent = new Map<number, SentPacket>();
  lossTime: number | undefined;
  timeOfLastAckEliciting: number | undefined;
  ackElicitingInFlight = 0;
  /** Probe packets owed after a PTO (RFC 9002 §6.2.4). */
  probes = 0;
  // Receiving.
  readonly received: RangeSet;
  /** Packet numbers below this are treated as duplicates (the range set forgot them). */
  receivedFloor = 0;
  largestReceived = -1;
  largestReceivedTime = 0;
  ackPending = false;
  ackElicitingSinceAck = 0;
  ackDeadline: number | undefined;
  readonly cryptoSend = new SendBuffer();
  readonly cryptoReceive = new ReassemblyBuffer();
  readonly payloadWriter = new BufferWriter(1500);

  constructor(readonly name: SpaceName, maxAckRanges: number) {
    this.received = new RangeSet(maxAckRanges);
  }

  isDuplicate(packetNumber: number): boolean {
    return packetNumber < this.receivedFloor || this.received.contains(packetNumber);
  }

  recordReceived(packetNumber: number, now: number): void {
    this.received.add(packetNumber);
    const first = this.received.first;
    if (first !== undefined && first[0] > this.receivedFloor) this.receivedFloor = first[0];
    if (packetNumber > this.largestReceived) {
      this.largestReceived = packetNumber;
      this.largestReceivedTime = now;
    }
  }
}

interface Path {
  remote: PathAddress;
  validated: boolean;
  bytesReceived: number;
  bytesSent: number;
  challenge: Uint8Array | undefined;
  challengePending: boolean;
  challengeDeadline: number | undefined;
  /** When an unanswered PATH_CHALLENGE is sent again (RFC 9000 §8.2.1: probes may be repeated, paced like Initials). */
  challengeResendAt: number | undefined;
  challengesSent: number;
}

interface PlainPacket {
  space: PacketSpace;
  packetNumber: number;
  pnLength: 1 | 2 | 3 | 4;
  headerLength: number;
  payload: BufferWriter;
  frames: SentFrameRecord[];
  ackEliciting: boolean;
  padDatagram: boolean;
  /** Sent as a 0-RTT long-header packet under the early key (client, before 1-RTT keys). */
  zeroRtt?: boolean;
  /** A PMTU probe: PING + PADDING to the size being tested. */
  pmtuProbe?: boolean;
}

/** The frames of one packet being built: its payload writer, what to remember for loss recovery, and flags. */
class PacketContents {
  readonly frames: SentFrameRecord[] = [];
  ackEliciting = false;
  padDatagram = false;

  constructor(
    readonly payload: BufferWriter,
    private readonly capacity: number,
  ) {}

  room(): number {
    return this.capacity - this.payload.length;
  }

  add(frame: Frame, record?: SentFrameRecord): void {
    encodeFrame(this.payload, frame);
    if (record) this.frames.push(record);
    if (isAckEliciting(frame)) this.ackEliciting = true;
    if (frame.type === 'pathChallenge' || frame.type === 'pathResponse') this.padDatagram = true;
  }
}

type State = 'handshake' | 'established' | 'closing' | 'draining' | 'closed';

/** RFC 9001 §6.6: AES-GCM confidentiality limit is 2^23 packets per key; update keys well before it. */
const KEY_UPDATE_PACKET_THRESHOLD = 2 ** 22;
const MAX_DATAGRAMS_PER_CALL = 1000;
/**
 * Smallest room worth building a packet in: a long header with two 20-byte CIDs (53 bytes), the AEAD tag and the
 * 32-byte minimum payload buildPacket asks for all fit. Below it nothing is sent, so ACK deadlines are not armed
 * either (a deadline we cannot act on would make a driver spin).
 */
const MIN_SEND_BUDGET = 128;
/**
 * The same floor once only short-header packets are sent: a 20-byte CID, a 4-byte packet number, the AEAD tag and
 * the 32-byte minimum payload. A peer that moved to a new path may have sent one small ACK from it; three times
 * that (RFC 9000 §8.1) must still carry the PATH_CHALLENGE that validates the path, or neither side ever speaks.
 */
const MIN_SHORT_SEND_BUDGET = 1 + 20 + 4 + 16 + 32;
const MAX_PENDING_PATH_RESPONSES = 4;
/** Packets kept while their keys are not yet available (a Handshake packet overtaking the Initial before it). */
const MAX_BUFFERED_EARLY_PACKETS = 8;

export class QuicConnection {
  private readonly crypto: CryptoProvider;
  private readonly role: 'client' | 'server';
  private readonly congestionControl: 'newreno' | 'cubic';
  private readonly limits: QuicLimits;
  private readonly tls: QuicTls;
  private readonly cidLength: number;
  private readonly spaces: Record<SpaceName, PacketSpace>;
  private readonly events: QuicEvent[] = [];
  /** Scratch space for packet headers (protectPacket copies the header out before the next one is written). */
  private readonly headerWriter = new BufferWriter(64);
  /** Header protection of the datagrams one datagramsToSend() call builds, applied together before they leave. */
  private readonly headerProtection = new HeaderProtectionBatch();
  private state: State = 'handshake';
  private now: number;

  // Connection IDs.
  private readonly localCids: LocalConnectionIds;
  private readonly peerCids: PeerConnectionIds;
  private readonly resetTokenFor: (cid: Uint8Array) => Uint8Array;
  private readonly originalDestinationCid: Uint8Array;
  /** DCID of the Initial packets (client: the current one; server: the one the client's Initials carry). */
  private initialDestinationCid: Uint8Array;
  private retrySourceCid: Uint8Array | undefined;
  private peerInitialSourceCid: Uint8Array | undefined;
  private token: Uint8Array;
  private retryReceived = false;
  private receivedFromPeer = false;
  private datagramAuthenticated = false;
  private authenticationFailures = 0;
  private integrityLimit = 2 ** 52;

  // Handshake.
  private handshakeComplete = false;
  private handshakeConfirmed = false;
  private handshakeDonePending = false;
  /** The suite of the handshake keys (the one negotiated), reported with handshakeComplete. */
  private cipherSuite: CipherSuite | undefined;
  private peerParameters: TransportParameters = { ...DEFAULT_TRANSPORT_PARAMETERS };
  private peerParametersReceived = false;
  private readonly localParameters: TransportParameters;
  private readonly keyLog: ((line: string) => void) | undefined;
  private readonly onPacket: ((packet: PacketTrace) => void) | undefined;
  private readonly onSessionTicket: ((ticket: Uint8Array) => void) | undefined;

  // 1-RTT key phases (RFC 9001 §6).
  private readKeyPhase = 0;
  private writeKeyPhase = 0;
  private nextReadKey: PacketKey | undefined;
  private previousReadKey: PacketKey | undefined;
  private previousReadKeyDiscardTime: number | undefined;
  private firstPacketInReadPhase = 0;
  private firstPacketInWritePhase = 0;
  private writePhaseAcked = true;
  private packetsInWritePhase = 0;

  // Recovery.
  private rtt = new RttEstimator();
  private congestion: CongestionController;
  private readonly pacer: Pacer;
  /** DPLPMTUD (RFC 8899): the datagram size in use, and the probes that may raise it. */
  private readonly pmtu: PathMtu;
  private ptoCount = 0;
  private lossDetectionTimer: number | undefined;
  private pacingDeadline: number | undefined;

  // Paths.
  private path: Path;
  private previousPath: Path | undefined;
  private readonly pathResponses: { data: Uint8Array; remote: PathAddress }[] = [];
  private readonly earlyPackets: { packet: Uint8Array; remote: PathAddress; space: SpaceName; zeroRtt: boolean }[] = [];
  // 0-RTT (RFC 9001 §4.6): the server's read key, the client's write key, and the packets sent under it.
  private earlyRead: DirectionKeys | undefined;
  private earlyWrite: DirectionKeys | undefined;
  private readonly zeroRttSent = new Set<number>();

  // Flow control and streams.
  private readonly receiveWindow: ReceiveWindow;
  private peerMaxData = 0;
  private dataSent = 0;
  private maxDataPending = false;
  private dataBlockedSentAt = -1;
  private dataBlockedPending = false;
  private readonly streams = new Map<number, QuicStream>();
  private readonly sendable = new Set<number>();
  private readonly controlPending = new Set<number>();
  private readonly localStreamsOpened = { bidi: 0, uni: 0 };
  private readonly peerStreamsOpened = { bidi: 0, uni: 0 };
  private readonly peerStreamsClosed = { bidi: 0, uni: 0 };
  private readonly localMaxStreams: { bidi: number; uni: number };
  private readonly maxStreamsPending = { bidi: false, uni: false };
  private readonly streamsBlockedPending = { bidi: false, uni: false };
  private peerMaxStreams = { bidi: 0, uni: 0 };

  // Closing (RFC 9000 §10.2).
  private closeFrame: Extract<Frame, { type: 'connectionClose' }> | undefined;
  private closeSendPending = false;
  private closeDeadline: number | undefined;
  private idleTimeout: number;
  private idleDeadline: number | undefined;
  private ackElicitingSentSinceReceive = false;

  constructor(options: QuicConnectionOptions) {
    this.crypto = options.crypto;
    this.role = options.role;
    this.congestionControl = options.congestionControl ?? 'newreno';
    this.now = options.now;
    this.limits = { ...DEFAULT_QUIC_LIMITS, ...options.limits };
    this.cidLength = options.connectionIdLength ?? 8;
    this.keyLog = options.keyLog;
    this.onPacket = options.onPacket;
    this.onSessionTicket = options.sessionTicket;
    this.spaces = {
      initial: new PacketSpace('initial', this.limits.maxAckRanges),
      handshake: new PacketSpace('handshake', this.limits.maxAckRanges),
      application: new PacketSpace('application', this.limits.maxAckRanges),
    };
    this.pmtu = new PathMtu(this.limits.maxDatagramSize);
    this.congestion = this.newCongestionController();
    this.pacer = new Pacer(this.pmtu.current);
    this.receiveWindow = new ReceiveWindow(this.limits.initialConnectionWindow, this.limits.maxConnectionWindow);
    this.localMaxStreams = { bidi: this.limits.maxStreamsBidi, uni: this.limits.maxStreamsUni };
    this.idleTimeout = this.limits.idleTimeout;
    this.resetTokenFor = options.statelessResetToken ?? (() => this.crypto.randomBytes(16));
    this.localCids = new LocalConnectionIds(this.limits.maxIssuedConnectionIds);
    this.peerCids = new PeerConnectionIds(this.limits.activeConnectionIdLimit, this.limits.maxPendingRetirements);
    const localCid = options.localConnectionId ?? this.crypto.randomBytes(this.cidLength);
    this.localCids.add(localCid, this.resetTokenFor(localCid), false);
    this.token = options.token ?? new Uint8Array(0);
    this.path = {
      remote: options.remote,
      // RFC 9000 §8.1: a client's peer address is validated by construction; a server's once the client proves it.
      validated: this.role === 'client' || options.addressValidated === true,
      bytesReceived: 0, bytesSent: 0, challenge: undefined, challengePending: false, challengeDeadline: undefined,
      challengeResendAt: undefined, challengesSent: 0,
    };

    if (this.role === 'client') {
      this.originalDestinationCid = options.originalDestinationConnectionId ?? this.crypto.randomBytes(8);
      this.initialDestinationCid = this.originalDestinationCid;
      this.peerCids.setInitial(this.originalDestinationCid);
    } else {
      if (options.originalDestinationConnectionId === undefined) throw new TypeError('a server connection needs originalDestinationConnectionId');
      this.originalDestinationCid = options.originalDestinationConnectionId;
      this.retrySourceCid = options.retrySourceConnectionId;
      this.initialDestinationCid = options.retrySourceConnectionId ?? options.originalDestinationConnectionId;
    }
    this.installInitialKeys();

    this.localParameters = {
      ...DEFAULT_TRANSPORT_PARAMETERS,
      maxIdleTimeout: this.limits.idleTimeout,
      maxUdpPayloadSize: Math.max(1200, this.limits.maxDatagramSize),
      initialMaxData: this.limits.initialConnectionWindow,
      initialMaxStreamDataBidiLocal: this.limits.initialStreamWindow,
      initialMaxStreamDataBidiRemote: this.limits.initialStreamWindow,
      initialMaxStreamDataUni: this.limits.initialStreamWindow,
      initialMaxStreamsBidi: this.limits.maxStreamsBidi,
      initialMaxStreamsUni: this.limits.maxStreamsUni,
      maxAckDelay: this.limits.maxAckDelay,
      activeConnectionIdLimit: this.limits.activeConnectionIdLimit,
      initialSourceConnectionId: localCid,
      ...(this.role === 'server'
        ? {
            originalDestinationConnectionId: this.originalDestinationCid,
            statelessResetToken: this.localCids.active.get(0)!.resetToken,
            ...(this.retrySourceCid ? { retrySourceConnectionId: this.retrySourceCid } : {}),
          }
        : {}),
    };
    this.tls = typeof options.tls === 'function' ? options.tls(encodeTransportParameters(this.localParameters)) : options.tls;
    if (this.role === 'client') {
      if (this.tls.start === undefined) throw new TypeError('a client connection needs a TLS client with start()');
      this.handleTlsEvents(this.tls.start());
    }
    this.resetIdleTimer();
  }

  // ─── Public API ────────────────────────────────────────────────────────────────────────────────────────────────

  /** True once the connection can be forgotten: closing/draining period over, or idle timeout. */
  get isClosed(): boolean {
    return this.state === 'closed';
  }

  /** True once any packet from the peer decrypted (a demux drops connections created for forged Initials). */
  get hasAuthenticatedPacket(): boolean {
    return this.receivedFromPeer;
  }

  /** The CIDs that currently route to this connection (for the demux). */
  get localConnectionIds(): Uint8Array[] {
    return [...this.localCids.active.values()].map((entry) => entry.cid);
  }

  pollEvents(): QuicEvent[] {
    return this.events.splice(0, this.events.length);
  }

  receiveDatagram(data: Uint8Array, remote: PathAddress, now: number): void {
    this.now = Math.max(this.now, now);
    if (this.state === 'closed' || this.state === 'draining') return;
    if (this.state === 'closing') {
      // RFC 9000 §10.2.1: in the closing state, answer incoming packets with CONNECTION_CLOSE (at most one per
      // datagram received, so the reply never amplifies) and process nothing else.
      this.closeSendPending = true;
      if (sameAddress(remote, this.path.remote)) this.path.bytesReceived += data.byteLength;
      return;
    }
    this.datagramAuthenticated = false;
    try {
      this.processDatagram(data, remote);
    } catch (error) {
      this.closeOnError(error);
    } finally {
      // RFC 9000 §8.1: bytes of datagrams that carried an authenticated packet raise the amplification budget,
      // including the one whose packet made us close (the close must still be sendable).
      if (this.datagramAuthenticated && sameAddress(remote, this.path.remote)) this.path.bytesReceived += data.byteLength;
    }
  }

  datagramsToSend(now: number): { data: Uint8Array; remote: PathAddress }[] {
    this.now = Math.max(this.now, now);
    const out: { data: Uint8Array; remote: PathAddress }[] = [];
    if (this.state === 'closed' || this.state === 'draining') return out;
    try {
      if (this.state === 'closing') {
        if (this.closeSendPending) {
          this.closeSendPending = false;
          const datagram = this.buildCloseDatagram();
          if (datagram) out.push({ data: datagram, remote: this.path.remote });
        }
        return out;
      }
      for (const response of this.pathResponses.splice(0)) {
        if (!sameAddress(response.remote, this.path.remote)) out.push({ data: this.buildPathResponseDatagram(response.data), remote: response.remote });
        else this.pathResponses.push(response);
      }
      this.pacingDeadline = undefined;
      for (let i = 0; i < MAX_DATAGRAMS_PER_CALL; i++) {
        const datagram = this.buildDatagram();
        if (datagram === undefined) break;
        out.push({ data: datagram, remote: this.path.remote });
      }
      this.setLossDetectionTimer();
    } catch (error) {
      this.closeOnError(error);
    } finally {
      this.headerProtection.apply();
    }
    return out;
  }

  nextDeadline(): number | undefined {
    if (this.state === 'closed') return undefined;
    if (this.state === 'closing' || this.state === 'draining') return this.closeDeadline;
    let deadline = this.idleDeadline;
    const consider = (time: number | undefined): void => {
      if (time !== undefined && (deadline === undefined || time < deadline)) deadline = time;
    };
    consider(this.lossDetectionTimer);
    consider(this.pacingDeadline);
    // An ACK the amplification limit keeps us from sending is no reason to wake up.
    if (this.amplificationBudget() >= this.minSendBudget()) {
      for (const name of SPACE_NAMES) if (this.spaces[name].ackPending) consider(this.spaces[name].ackDeadline);
    }
    consider(this.path.challengeDeadline);
    consider(this.path.challengeResendAt);
    consider(this.previousReadKeyDiscardTime);
    return deadline;
  }

  onTimeout(now: number): void {
    this.now = Math.max(this.now, now);
    if (this.state === 'closed') return;
    if (this.state === 'closing' || this.state === 'draining') {
      if (this.closeDeadline !== undefined && now >= this.closeDeadline) this.state = 'closed';
      return;
    }
    if (this.idleDeadline !== undefined && now >= this.idleDeadline) {
      // RFC 9000 §10.1: idle timeout closes silently.
      this.terminate(TransportError.NO_ERROR, this.handshakeComplete ? 'idle timeout' : 'handshake timeout', false, false);
      this.state = 'closed';
      return;
    }
    if (this.previousReadKeyDiscardTime !== undefined && now >= this.previousReadKeyDiscardTime) {
      this.previousReadKey = undefined;
      this.previousReadKeyDiscardTime = undefined;
    }
    if (this.path.challengeDeadline !== undefined && now >= this.path.challengeDeadline) this.onPathValidationFailed();
    if (this.path.challengeResendAt !== undefined && now >= this.path.challengeResendAt) {
      this.path.challengeResendAt = undefined;
      if (this.path.challenge !== undefined) this.path.challengePending = true;
    }
    if (this.lossDetectionTimer !== undefined && now >= this.lossDetectionTimer) this.onLossDetectionTimeout();
  }

  /**
   * Opens a stream we initiate. Returns its ID, or -1 when the peer's stream limit (MAX_STREAMS) is reached: a
   * STREAMS_BLOCKED is then sent and the caller retries after the peer raises the limit (any later event).
   */
  openStream(unidirectional: boolean): number {
    this.assertOpen();
    const kind = unidirectional ? 'uni' : 'bidi';
    const index = this.localStreamsOpened[kind];
    if (index >= this.peerMaxStreams[kind]) {
      // RFC 9000 §4.6: tell the peer we want more (STREAMS_BLOCKED), once the handshake lets us send it.
      this.streamsBlockedPending[kind] = true;
      return -1;
    }
    this.localStreamsOpened[kind]++;
    const id = index * 4 + (this.role === 'server' ? 1 : 0) + (unidirectional ? 2 : 0);
    const p = this.peerParameters;
    this.streams.set(id, new QuicStream(
      id, true, !unidirectional, this.limits.initialStreamWindow, this.limits.maxStreamWindow,
      unidirectional ? p.initialMaxStreamDataUni : p.initialMaxStreamDataBidiRemote,
    ));
    return id;
  }

  /** Queues data; false when the stream's unsent data is above the high-water mark (wait for 'streamWritable'). */
  sendStreamData(streamId: number, data: Uint8Array, end: boolean): boolean {
    this.assertOpen();
    const stream = this.streams.get(streamId);
    // A stream that existed but is gone (reset and finished, e.g. after the peer's STOP_SENDING) discards writes:
    // that race is not an API misuse. Never-opened or receive-only streams are.
    if (stream === undefined && this.streamWasOpened(streamId)) return true;
    if (stream === undefined || !stream.canSend) throw new Error(`stream ${streamId} cannot send`);
    if (stream.send.finWritten) throw new Error(`stream ${streamId} already ended`);
    if (stream.resetCode !== undefined) return true; // reset: data is discarded (RFC 9000 §3.1 "Reset Sent")
    stream.send.write(data, end);
    if (stream.send.hasPending) this.sendable.add(streamId);
    const belowHighWater = stream.send.unsent <= this.limits.streamSendHighWater;
    if (!belowHighWater) stream.writeBlocked = true;
    return belowHighWater;
  }

  /** The application processed `bytes` of a stream's data: reopen stream and connection windows (RFC 9000 §4.2). */
  consume(streamId: number, bytes: number): void {
    if (bytes <= 0) return;
    this.receiveWindow.consumed = Math.min(this.receiveWindow.highestReceived, this.receiveWindow.consumed + bytes);
    if (this.receiveWindow.wantsUpdate) this.maxDataPending = true;
    const stream = this.streams.get(streamId);
    if (stream === undefined) return;
    stream.receiveWindow.consumed = Math.min(stream.receiveWindow.highestReceived, stream.receiveWindow.consumed + bytes);
    if (stream.finalSize === undefined && stream.receiveWindow.wantsUpdate) {
      stream.maxStreamDataPending = true;
      this.controlPending.add(streamId);
    }
  }

  /** RFC 9000 §19.4: abandons sending on a stream. */
  resetStream(streamId: number, code: number): void {
    const stream = this.streams.get(streamId);
    if (stream === undefined || !stream.canSend || stream.resetCode !== undefined || stream.send.allAcked) return;
    stream.resetCode = code;
    stream.resetPending = true;
    stream.send.abandon();
    this.sendable.delete(streamId);
    this.controlPending.add(streamId);
  }

  /** RFC 9000 §19.5: asks the peer to stop sending; further data on the stream is discarded. */
  stopSending(streamId: number, code: number): void {
    const stream = this.streams.get(streamId);
    if (stream === undefined || !stream.canReceive || stream.stopped || stream.receiveDone) return;
    stream.stopped = true;
    stream.stopSendingCode = code;
    stream.stopSendingPending = true;
    // Bytes received but never to be delivered count as consumed for the connection window.
    this.receiveWindow.consumed += stream.receiveWindow.highestReceived - stream.reassembly.delivered;
    this.controlPending.add(streamId);
  }

  /**
   * Closes the connection (RFC 9000 §10.2): CONNECTION_CLOSE of the application (0x1d) or transport (0x1c) kind,
   * then the closing period. Before the handshake is confirmed an application close is sent as a transport
   * APPLICATION_ERROR in Initial/Handshake packets (§10.2.3).
   */
  close(code: number, reason: string, application: boolean): void {
    if (this.state === 'closing' || this.state === 'draining' || this.state === 'closed') return;
    this.enterClosing({ type: 'connectionClose', application, code, frameType: 0, reason });
  }

  /** Initiates a key update (RFC 9001 §6.1). False if not allowed yet (handshake unconfirmed or previous update unacknowledged). */
  requestKeyUpdate(): boolean {
    if (!this.handshakeConfirmed || !this.writePhaseAcked || this.nextReadKey === undefined) return false;
    const space = this.spaces.application;
    space.write!.packet = space.write!.packet.next();
    this.writeKeyPhase ^= 1;
    this.writePhaseAcked = false;
    this.firstPacketInWritePhase = space.nextPacketNumber;
    this.packetsInWritePhase = 0;
    return true;
  }

  /** The current key phase bits (read, write), for tests and diagnostics. */
  get keyPhase(): { read: number; write: number } {
    return { read: this.readKeyPhase, write: this.writeKeyPhase };
  }

  /** Connection-level receive window size (auto-tuned), for tests and diagnostics. */
  get connectionReceiveWindow(): number {
    return this.receiveWindow.windowSize;
  }

  get smoothedRtt(): number {
    return this.rtt.smoothed;
  }

  get currentRemote(): PathAddress {
    return this.path.remote;
  }

  /** The largest datagram sent now (RFC 8899 PLPMTU), and where its discovery stands. */
  get pathMtu(): { size: number; state: PmtuState; probesSent: number; probesLost: number; blackHoles: number } {
    const { current, state, probesSent, probesLost, blackHoles } = this.pmtu;
    return { size: current, state, probesSent, probesLost, blackHoles };
  }

  /** The congestion window and bytes in flight (bytes). */
  get congestionWindow(): { window: number; inFlight: number } {
    return { window: this.congestion.congestionWindow, inFlight: this.congestion.bytesInFlight };
  }

  get pathValidated(): boolean {
    return this.path.validated;
  }

  private newCongestionController(): CongestionController {
    return this.congestionControl === 'cubic' ? new Cubic(this.pmtu.current) : new NewReno(this.pmtu.current);
  }

  private streamWasOpened(streamId: number): boolean {
    const kind = isUnidirectional(streamId) ? 'uni' : 'bidi';
    const local = isClientInitiated(streamId) === (this.role === 'client');
    if (local && kind === 'uni') return Math.floor(streamId / 4) < this.localStreamsOpened.uni;
    if (!local && kind === 'uni') return false; // receive-only
    return Math.floor(streamId / 4) < (local ? this.localStreamsOpened[kind] : this.peerStreamsOpened[kind]);
  }

  private assertOpen(): void {
    if (this.state === 'closing' || this.state === 'draining' || this.state === 'closed') throw new Error('connection is closed');
  }

  // ─── Receiving ────────────────────────────────────────────────────────────────────────────────────────────────

  private processDatagram(data: Uint8Array, remote: PathAddress): void {
    let offset = 0;
    let firstDcid: Uint8Array | undefined;
    let processedAny = false;
    while (offset < data.byteLength) {
      let header: PacketHeader;
      try {
        header = parsePacketHeader(data, offset, this.cidLength);
      } catch {
        break; // RFC 9000 §12.2: the rest of an unparseable datagram is dropped.
      }
      const start = offset;
      offset = header.packetEnd;
      // §12.2: coalesced packets with a different DCID are dropped.
      if (firstDcid !== undefined && !bytesEqual(firstDcid, header.destinationCid)) continue;
      firstDcid = header.destinationCid;
      if (this.processPacket(data, start, header, remote)) processedAny = true;
      if (this.state !== 'handshake' && this.state !== 'established') break;
    }
    if (processedAny) this.replayEarlyPackets();
    else this.checkStatelessReset(data);
  }

  /** Processes buffered packets whose keys have become available since they arrived. */
  private replayEarlyPackets(): void {
    for (let i = 0; i < this.earlyPackets.length; ) {
      const early = this.earlyPackets[i]!;
      const space = this.spaces[early.space];
      if ((early.zeroRtt ? this.earlyRead === undefined && !this.handshakeComplete : space.read === undefined) && !space.discarded) {
        i++;
        continue;
      }
      this.earlyPackets.splice(i, 1);
      if (space.discarded || (this.state !== 'handshake' && this.state !== 'established')) continue;
      let header: PacketHeader;
      try {
        header = parsePacketHeader(early.packet, 0, this.cidLength);
      } catch {
        continue;
      }
      this.processPacket(early.packet, 0, header, early.remote);
    }
  }

  /** Returns true when the packet was authenticated and processed. */
  private processPacket(data: Uint8Array, start: number, header: PacketHeader, remote: PathAddress): boolean {
    if (header.type === 'versionNegotiation') {
      this.onVersionNegotiation(header);
      return false;
    }
    if (header.version !== QUIC_VERSION_1) return false;
    if (header.type === 'retry') {
      this.onRetry(data, header);
      return false;
    }
    const zeroRtt = header.type === 'zeroRtt';
    // 0-RTT goes client → server only, and only until the handshake completes (RFC 9001 §4.9.3: the server may
    // then drop it; the client resends whatever went unacknowledged in 1-RTT).
    if (zeroRtt && (this.role === 'client' || this.handshakeComplete)) return false;
    if (!this.destinationCidIsOurs(header)) return false;
    const space = this.spaces[header.type === 'initial' ? 'initial' : header.type === 'handshake' ? 'handshake' : 'application'];
    if (space.discarded) return false;
    const keys = zeroRtt ? this.earlyRead : space.read;
    if (keys === undefined) {
      // RFC 9001 §5.7: a packet can arrive before the keys to read it; keep a few and retry once keys arrive.
      if (space.name !== 'initial' && this.earlyPackets.length < MAX_BUFFERED_EARLY_PACKETS) {
        this.earlyPackets.push({ packet: data.slice(start, header.packetEnd), remote, space: space.name, zeroRtt });
      }
      return false;
    }
    const unmasked = removeHeaderProtection(keys.hp, data, start, header.pnOffset, header.packetEnd, space.largestReceived);
    if (unmasked === null) return false;
    const ciphertext = data.subarray(header.pnOffset + unmasked.pnLength, header.packetEnd);
    const payload = space.name === 'application' && !zeroRtt
      ? this.openOneRtt(unmasked.header, ciphertext, unmasked.packetNumber, unmasked.firstByte)
      : keys.packet.open(unmasked.header, ciphertext, unmasked.packetNumber);
    if (payload === null) {
      // RFC 9001 §6.6: count forged 1-RTT packets against the AEAD's integrity limit; past it, no key is safe.
      if (space.name === 'application' && ++this.authenticationFailures > this.integrityLimit) {
        throw new QuicError(TransportError.AEAD_LIMIT_REACHED, 'AEAD integrity limit reached');
      }
      return false;
    }
    this.datagramAuthenticated = true;
    // RFC 9000 §17.2/§17.3.1: reserved bits must be zero once protection is removed → PROTOCOL_VIOLATION.
    const reserved = header.longHeader ? unmasked.firstByte & 0x0c : unmasked.firstByte & 0x18;
    if (reserved !== 0) throw new QuicError(TransportError.PROTOCOL_VIOLATION, 'reserved header bits set');
    if (space.isDuplicate(unmasked.packetNumber)) return true;

    if (!this.receivedFromPeer) {
      this.receivedFromPeer = true;
      this.peerInitialSourceCid = header.sourceCid.slice();
      // RFC 9000 §7.2: the client switches to the server's chosen CID; the server learns the client's.
      this.peerCids.setInitial(header.sourceCid.slice());
    }
    const frames = decodeFrames(payload, header.type);
    this.onPacket?.({ direction: 'in', type: header.type as PacketTrace['type'], packetNumber: unmasked.packetNumber, size: header.packetEnd - start, frames: frames.map((decoded) => decoded.frame) });
    const outOfOrder = unmasked.packetNumber < space.largestReceived || (space.largestReceived >= 0 && unmasked.packetNumber > space.largestReceived + 1);
    let ackEliciting = false;
    let nonProbing = false;
    const isLargest = unmasked.packetNumber > space.largestReceived;
    for (const { frame, wireType } of frames) {
      if (isAckEliciting(frame)) ackEliciting = true;
      if (frame.type !== 'padding' && frame.type !== 'pathChallenge' && frame.type !== 'pathResponse' && frame.type !== 'newConnectionId') {
        nonProbing = true;
      }
      this.handleFrame(space, frame, wireType, header, remote);
      if (this.state === 'draining' || this.state === 'closed') return true;
    }
    space.recordReceived(unmasked.packetNumber, this.now);
    if (ackEliciting) this.scheduleAck(space, outOfOrder);
    if (this.role === 'server' && space.name === 'handshake') {
      // RFC 9000 §8.1: a Handshake packet proves the client's address. RFC 9001 §4.9.1: the server drops Initial keys.
      this.path.validated = true;
      this.discardSpace(this.spaces.initial);
    }
    if (space.name === 'application' && !zeroRtt) this.earlyRead = undefined;
    this.resetIdleTimer();
    this.ackElicitingSentSinceReceive = false;
    if (space.name === 'application' && nonProbing && isLargest && !sameAddress(remote, this.path.remote)) this.migrateTo(remote);
    return true;
  }

  private destinationCidIsOurs(header: PacketHeader): boolean {
    if (this.localCids.has(header.destinationCid)) return true;
    // Before the client learns our CID its packets carry the one it chose (or the Retry's).
    return header.longHeader && this.role === 'server' && bytesEqual(header.destinationCid, this.initialDestinationCid);
  }

  /** RFC 9001 §6.3: pick the key generation by the key-phase bit and detect the peer's key update. */
  private openOneRtt(header: Uint8Array, ciphertext: Uint8Array, packetNumber: number, firstByte: number): Uint8Array | null {
    const space = this.spaces.application;
    const phase = (firstByte >> 2) & 1;
    if (phase === this.readKeyPhase) return space.read!.packet.open(header, ciphertext, packetNumber);
    if (this.previousReadKey !== undefined && packetNumber < this.firstPacketInReadPhase) {
      return this.previousReadKey.open(header, ciphertext, packetNumber);
    }
    if (this.nextReadKey === undefined || !this.handshakeComplete) return null;
    const payload = this.nextReadKey.open(header, ciphertext, packetNumber);
    if (payload === null) return null;
    // The peer moved to the next key phase.
    this.previousReadKey = space.read!.packet;
    this.previousReadKeyDiscardTime = this.now + 3 * this.ptoDuration();
    space.read!.packet = this.nextReadKey;
    this.nextReadKey = this.nextReadKey.next();
    this.readKeyPhase ^= 1;
    this.firstPacketInReadPhase = packetNumber;
    if (this.writeKeyPhase !== this.readKeyPhase) {
      // The peer initiated: respond by updating our write keys (§6.2).
      space.write!.packet = space.write!.packet.next();
      this.writeKeyPhase = this.readKeyPhase;
      this.firstPacketInWritePhase = space.nextPacketNumber;
      this.packetsInWritePhase = 0;
      this.writePhaseAcked = false;
    }
    return payload;
  }

  private scheduleAck(space: PacketSpace, outOfOrder: boolean): void {
    if (space.discarded) return;
    space.ackPending = true;
    space.ackElicitingSinceAck++;
    // RFC 9000 §13.2.1: Initial and Handshake packets are acknowledged at once, and so are out-of-order packets;
    // otherwise every second ack-eliciting packet or within max_ack_delay (§13.2.2).
    const immediate = space.name !== 'application' || outOfOrder || space.ackElicitingSinceAck >= this.limits.ackElicitingThreshold;
    const deadline = immediate ? this.now : this.now + this.limits.maxAckDelay;
    space.ackDeadline = space.ackDeadline === undefined ? deadline : Math.min(space.ackDeadline, deadline);
  }

  private handleFrame(space: PacketSpace, frame: Frame, wireType: number, header: PacketHeader, remote: PathAddress): void {
    switch (frame.type) {
      case 'padding':
      case 'ping':
        return;
      case 'ack':
        return this.onAck(space, frame, wireType);
      case 'crypto':
        return this.onCrypto(space, frame.offset, frame.data, wireType);
      case 'stream':
        return this.onStreamFrame(frame.streamId, frame.offset, frame.data, frame.fin, wireType);
      case 'resetStream':
        return this.onResetStream(frame.streamId, frame.code, frame.finalSize, wireType);
      case 'stopSending':
        return this.onStopSending(frame.streamId, frame.code, wireType);
      case 'maxData':
        if (frame.maximum > this.peerMaxData) this.peerMaxData = frame.maximum;
        return;
      case 'maxStreamData': {
        const stream = this.streamForFrame(frame.streamId, 'send', wireType);
        if (stream && frame.maximum > stream.peerMaxStreamData) {
          stream.peerMaxStreamData = frame.maximum;
          if (stream.send.hasPending) this.sendable.add(stream.id);
        }
        return;
      }
      case 'maxStreams': {
        const kind = frame.bidirectional ? 'bidi' : 'uni';
        if (frame.maximum > this.peerMaxStreams[kind]) this.peerMaxStreams[kind] = frame.maximum;
        return;
      }
      case 'dataBlocked':
        return;
      case 'streamDataBlocked':
        this.streamForFrame(frame.streamId, 'receive', wireType);
        return;
      case 'streamsBlocked':
        return;
      case 'newToken':
        // RFC 9000 §19.7: a server receiving NEW_TOKEN is a PROTOCOL_VIOLATION.
        if (this.role === 'server') throw new QuicError(TransportError.PROTOCOL_VIOLATION, 'NEW_TOKEN from a client', wireType);
        return;
      case 'newConnectionId':
        // RFC 9000 §19.15: an endpoint whose peer uses zero-length CIDs must not receive NEW_CONNECTION_ID.
        if (this.peerCids.current?.cid.byteLength === 0) throw new QuicError(TransportError.PROTOCOL_VIOLATION, 'NEW_CONNECTION_ID with a zero-length peer CID', wireType);
        this.peerCids.add(frame.sequence, frame.retirePriorTo, frame.connectionId, frame.resetToken);
        return;
      case 'retireConnectionId': {
        const retired = this.localCids.retire(frame.sequence, header.destinationCid);
        if (retired) {
          this.events.push({ type: 'connectionIdRetired', connectionId: retired.cid });
          this.issueConnectionIds();
        }
        return;
      }
      case 'pathChallenge':
        if (this.pathResponses.length < MAX_PENDING_PATH_RESPONSES) this.pathResponses.push({ data: frame.data, remote });
        return;
      case 'pathResponse':
        if (this.path.challenge !== undefined && bytesEqual(frame.data, this.path.challenge)) {
          this.path.validated = true;
          this.path.challenge = undefined;
          this.path.challengeDeadline = undefined;
          this.path.challengeResendAt = undefined;
          this.previousPath = undefined;
        }
        return;
      case 'connectionClose':
        this.terminate(frame.code, frame.reason, frame.application, true);
        this.state = 'draining';
        this.closeDeadline = this.now + 3 * this.ptoDuration();
        return;
      case 'handshakeDone':
        // RFC 9000 §19.20: a server receiving HANDSHAKE_DONE is a PROTOCOL_VIOLATION.
        if (this.role === 'server') throw new QuicError(TransportError.PROTOCOL_VIOLATION, 'HANDSHAKE_DONE from a client', wireType);
        this.confirmHandshake();
        return;
    }
  }

  // ─── CRYPTO and TLS ───────────────────────────────────────────────────────────────────────────────────────────

  private onCrypto(space: PacketSpace, offset: number, data: Uint8Array, wireType: number): void {
    // RFC 9000 §7.5: buffering more than we allow beyond what TLS consumed is CRYPTO_BUFFER_EXCEEDED.
    if (offset + data.byteLength - space.cryptoReceive.delivered > this.limits.maxCryptoBuffer) {
      throw new QuicError(TransportError.CRYPTO_BUFFER_EXCEEDED, 'CRYPTO data beyond the buffer limit', wireType);
    }
    const level: EncryptionLevel = space.name;
    for (const chunk of space.cryptoReceive.insert(offset, data)) {
      this.handleTlsEvents(this.tls.receive(level, chunk));
      if (this.state !== 'handshake' && this.state !== 'established') return;
    }
  }

  private handleTlsEvents(events: TlsEvent[]): void {
    for (const event of events) {
      switch (event.type) {
        case 'cryptoData':
          this.spaces[event.level].cryptoSend.write(event.data, false);
          break;
        case 'keysReady': {
          if (event.level === 'early') {
            const early = directionKeys(this.crypto, event.suite, event.secret);
            if (event.direction === 'read') this.earlyRead = early;
            else this.earlyWrite = early;
            break;
          }
          const space = this.spaces[event.level];
          const keys = directionKeys(this.crypto, event.suite, event.secret);
          if (event.level === 'handshake') this.cipherSuite = event.suite;
          if (event.direction === 'read') {
            space.read = keys;
            if (event.level === 'application') {
              this.nextReadKey = keys.packet.next();
              // RFC 9001 §6.6: 2^52 forgeries for AES-GCM, 2^36 for ChaCha20-Poly1305.
              this.integrityLimit = event.suite.aead === 'chacha20-poly1305' ? 2 ** 36 : 2 ** 52;
            }
          } else {
            space.write = keys;
          }
          break;
        }
        case 'peerTransportParameters':
          this.applyPeerParameters(event.data);
          break;
        case 'handshakeComplete':
          if (this.role === 'client') this.endZeroRtt(event.earlyDataAccepted);
          this.onHandshakeComplete(event.alpn, event.serverName, event.resumed);
          break;
        case 'rememberedTransportParameters':
          this.applyRememberedParameters(event.data);
          break;
        case 'sessionTicket':
          this.onSessionTicket?.(event.ticket);
          break;
        case 'keyLog':
          this.keyLog?.(event.line);
          break;
        case 'alert':
          // RFC 9001 §4.8: a TLS alert becomes CRYPTO_ERROR 0x0100 + alert description, unless TLS names the
          // transport error itself (e.g. PROTOCOL_VIOLATION, CRYPTO_BUFFER_EXCEEDED).
          throw new QuicError(event.transportError ?? TransportError.CRYPTO_ERROR + (event.description & 0xff), event.reason, 0x06);
      }
    }
  }

  private applyPeerParameters(data: Uint8Array): void {
    const fromServer = this.role === 'client';
    const parameters = decodeTransportParameters(data, fromServer);
    authenticateConnectionIds(parameters, {
      peerInitialSourceCid: this.peerInitialSourceCid ?? new Uint8Array(0),
      originalDestinationCid: this.originalDestinationCid,
      ...(this.retrySourceCid ? { retrySourceCid: this.retrySourceCid } : {}),
      fromServer,
    });
    this.peerParameters = parameters;
    this.peerParametersReceived = true;
    this.peerMaxData = parameters.initialMaxData;
    this.peerMaxStreams = { bidi: parameters.initialMaxStreamsBidi, uni: parameters.initialMaxStreamsUni };
    // RFC 9000 §10.1: the effective idle timeout is the minimum of both, when both are set.
    if (parameters.maxIdleTimeout > 0) this.idleTimeout = this.idleTimeout > 0 ? Math.min(this.idleTimeout, parameters.maxIdleTimeout) : parameters.maxIdleTimeout;
    if (parameters.statelessResetToken) this.peerCids.setInitialResetToken(parameters.statelessResetToken);
  }

  /**
   * Client attempting 0-RTT: the server's parameters from the earlier connection bound what it may send
   * (RFC 9000 §7.4.1) until the real ones arrive in this handshake.
   */
  private applyRememberedParameters(data: Uint8Array): void {
    const remembered = decodeTransportParameters(data, true);
    this.peerParameters = { ...remembered, originalDestinationConnectionId: undefined, initialSourceConnectionId: undefined, retrySourceConnectionId: undefined, statelessResetToken: undefined, preferredAddress: undefined };
    this.peerMaxData = remembered.initialMaxData;
    this.peerMaxStreams = { bidi: remembered.initialMaxStreamsBidi, uni: remembered.initialMaxStreamsUni };
  }

  /** RFC 9001 §4.6.2: when the server rejected 0-RTT, everything sent in it is sent again in 1-RTT. */
  private endZeroRtt(accepted: boolean): void {
    this.earlyWrite = undefined;
    if (accepted || this.zeroRttSent.size === 0) return;
    const space = this.spaces.application;
    for (const packetNumber of this.zeroRttSent) {
      const packet = space.sent.get(packetNumber);
      if (packet === undefined) continue;
      space.sent.delete(packetNumber);
      if (packet.ackEliciting) space.ackElicitingInFlight--;
      if (packet.inFlight) this.congestion.onRemoved(packet.size);
      this.onFramesLost(space, packet.frames);
    }
    this.zeroRttSent.clear();
  }

  private onHandshakeComplete(alpn: string, serverName: string | undefined, resumed: boolean): void {
    if (this.handshakeComplete) return;
    if (!this.peerParametersReceived) {
      throw new QuicError(TransportError.CRYPTO_ERROR + 109, 'peer sent no quic_transport_parameters'); // missing_extension
    }
    this.handshakeComplete = true;
    this.state = 'established';
    const cipher = this.cipherSuite === undefined ? {} : { cipher: cipherSuiteName(this.cipherSuite) };
    this.events.push({ type: 'handshakeComplete', alpn, ...(serverName !== undefined ? { serverName } : {}), resumed, ...cipher });
    if (this.role === 'server') {
      // RFC 9001 §4.1.2: the server's handshake is confirmed when it completes; it tells the client with HANDSHAKE_DONE.
      this.handshakeDonePending = true;
      this.confirmHandshake();
    }
    this.issueConnectionIds();
  }

  /** RFC 9001 §4.9.2: Handshake keys are discarded once the handshake is confirmed. */
  private confirmHandshake(): void {
    if (this.handshakeConfirmed) return;
    this.handshakeConfirmed = true;
    this.discardSpace(this.spaces.initial);
    this.discardSpace(this.spaces.handshake);
  }

  private installInitialKeys(): void {
    const keys = initialKeys(this.crypto, this.initialDestinationCid, this.role === 'client');
    this.spaces.initial.read = keys.read;
    this.spaces.initial.write = keys.write;
  }

  private discardSpace(space: PacketSpace): void {
    if (space.discarded) return;
    space.discarded = true;
    for (const packet of space.sent.values()) if (packet.inFlight) this.congestion.onRemoved(packet.size);
    space.sent.clear();
    space.ackElicitingInFlight = 0;
    space.lossTime = undefined;
    space.read = undefined;
    space.write = undefined;
    space.ackPending = false;
    space.cryptoSend.abandon();
    // RFC 9002 §6.2.2: discarding keys resets the PTO backoff.
    this.ptoCount = 0;
    this.setLossDetectionTimer();
  }

  // ─── Version negotiation, Retry, stateless reset ──────────────────────────────────────────────────────────────

  private onVersionNegotiation(header: PacketHeader): void {
    // RFC 9000 §6.2: only before any other packet from the server, and ignored if it lists our version.
    if (this.role !== 'client' || this.receivedFromPeer || header.supportedVersions.includes(QUIC_VERSION_1)) return;
    this.terminate(TransportError.NO_ERROR, 'version negotiation: no common version', false, true);
    this.state = 'closed';
  }

  private onRetry(data: Uint8Array, header: PacketHeader): void {
    // RFC 9000 §17.2.5.2: one Retry at most, only before any other server packet, with a valid tag.
    if (this.role !== 'client' || this.retryReceived || this.receivedFromPeer || header.token.byteLength === 0) return;
    if (!verifyRetry(this.crypto, data, header, this.originalDestinationCid)) return;
    this.retryReceived = true;
    this.retrySourceCid = header.sourceCid.slice();
    this.token = header.token.slice();
    this.initialDestinationCid = this.retrySourceCid;
    this.peerCids.setInitial(this.retrySourceCid);
    this.installInitialKeys();
    // Everything sent in Initial packets is sent again under the new keys (packet numbers continue, §17.2.5.3).
    const initial = this.spaces.initial;
    for (const packet of initial.sent.values()) {
      if (packet.inFlight) this.congestion.onRemoved(packet.size);
      this.onFramesLost(initial, packet.frames);
    }
    initial.sent.clear();
    initial.ackElicitingInFlight = 0;
  }

  /** RFC 9000 §10.3.1: a datagram we cannot process that ends with a peer's stateless reset token. */
  private checkStatelessReset(data: Uint8Array): void {
    if (data.byteLength < 21 || (data[0]! & 0x80) !== 0) return;
    const token = data.subarray(data.byteLength - 16);
    if (!this.peerCids.hasResetToken(token, (a, b) => this.crypto.timingSafeEqual(a, b))) return;
    this.terminate(TransportError.NO_ERROR, 'stateless reset', false, true);
    this.state = 'draining';
    this.closeDeadline = this.now + 3 * this.ptoDuration();
  }

  // ─── Streams ──────────────────────────────────────────────────────────────────────────────────────────────────

  /**
   * The stream a frame refers to, opening peer-initiated streams up to it (RFC 9000 §3.2). Undefined when the
   * stream already closed (late frames are ignored). `need` is the direction the frame acts on: frames about our
   * receiving part on a send-only stream, or the reverse, are STREAM_STATE_ERRORs (§19.4-19.13).
   */
  private streamForFrame(streamId: number, need: 'send' | 'receive', wireType: number): QuicStream | undefined {
    const localInitiated = isClientInitiated(streamId) === (this.role === 'client');
    const uni = isUnidirectional(streamId);
    const kind = uni ? 'uni' : 'bidi';
    const canSend = !uni || localInitiated;
    const canReceive = !uni || !localInitiated;
    if ((need === 'send' && !canSend) || (need === 'receive' && !canReceive)) {
      throw new QuicError(TransportError.STREAM_STATE_ERROR, `frame not allowed on stream ${streamId} in this direction`, wireType);
    }
    const index = Math.floor(streamId / 4);
    if (localInitiated) {
      // §19.8: a frame for a locally initiated stream we have not opened is a STREAM_STATE_ERROR.
      if (index >= this.localStreamsOpened[kind]) throw new QuicError(TransportError.STREAM_STATE_ERROR, `stream ${streamId} not opened`, wireType);
      return this.streams.get(streamId);
    }
    // §4.6: a peer-initiated stream beyond the limit we advertised is a STREAM_LIMIT_ERROR.
    if (index >= this.localMaxStreams[kind]) throw new QuicError(TransportError.STREAM_LIMIT_ERROR, `stream ${streamId} exceeds MAX_STREAMS`, wireType);
    if (index < this.peerStreamsOpened[kind]) return this.streams.get(streamId);
    const p = this.peerParameters;
    for (let i = this.peerStreamsOpened[kind]; i <= index; i++) {
      const id = i * 4 + (streamId & 0x03);
      this.streams.set(id, new QuicStream(
        id, !uni, true, this.limits.initialStreamWindow, this.limits.maxStreamWindow, uni ? 0 : p.initialMaxStreamDataBidiLocal,
      ));
      this.events.push({ type: 'streamOpened', streamId: id });
    }
    this.peerStreamsOpened[kind] = index + 1;
    return this.streams.get(streamId);
  }

  private onStreamFrame(streamId: number, offset: number, data: Uint8Array, fin: boolean, wireType: number): void {
    const stream = this.streamForFrame(streamId, 'receive', wireType);
    if (stream === undefined || stream.resetReceived) return;
    const increment = stream.checkIncoming(offset, data.byteLength, fin, wireType);
    this.receiveWindow.highestReceived += increment;
    // RFC 9000 §4.1: the sum over streams beyond MAX_DATA is a FLOW_CONTROL_ERROR.
    if (this.receiveWindow.exceeds(this.receiveWindow.highestReceived)) {
      throw new QuicError(TransportError.FLOW_CONTROL_ERROR, 'connection data beyond MAX_DATA', wireType);
    }
    if (stream.stopped) {
      this.receiveWindow.consumed += increment;
      if (this.receiveWindow.wantsUpdate) this.maxDataPending = true;
      this.maybeCloseStream(stream);
      return;
    }
    const chunks = stream.reassembly.insert(offset, data);
    // A frame that fills a gap releases the chunks buffered behind it at once: only the last of them can end the
    // stream (marking every chunk with the final state would end the stream before its last bytes were delivered).
    for (let i = 0; i < chunks.length; i++) {
      const end = i === chunks.length - 1 && stream.finalSize !== undefined && stream.reassembly.delivered === stream.finalSize;
      if (end) stream.endDelivered = true;
      this.events.push({ type: 'streamData', streamId, data: chunks[i]!, end });
    }
    if (!stream.endDelivered && stream.finalSize !== undefined && stream.reassembly.delivered === stream.finalSize) {
      stream.endDelivered = true;
      this.events.push({ type: 'streamData', streamId, data: new Uint8Array(0), end: true });
    }
    this.maybeCloseStream(stream);
  }

  private onResetStream(streamId: number, code: number, finalSize: number, wireType: number): void {
    const stream = this.streamForFrame(streamId, 'receive', wireType);
    if (stream === undefined || stream.resetReceived || stream.endDelivered) return;
    // RFC 9000 §4.5: the final size must match anything already known.
    if ((stream.finalSize !== undefined && finalSize !== stream.finalSize) || finalSize < stream.receiveWindow.highestReceived) {
      throw new QuicError(TransportError.FINAL_SIZE_ERROR, 'RESET_STREAM final size mismatch', wireType);
    }
    if (stream.receiveWindow.exceeds(finalSize)) throw new QuicError(TransportError.FLOW_CONTROL_ERROR, 'RESET_STREAM final size beyond MAX_STREAM_DATA', wireType);
    const increment = finalSize - stream.receiveWindow.highestReceived;
    stream.receiveWindow.highestReceived = finalSize;
    this.receiveWindow.highestReceived += increment;
    if (this.receiveWindow.exceeds(this.receiveWindow.highestReceived)) {
      throw new QuicError(TransportError.FLOW_CONTROL_ERROR, 'connection data beyond MAX_DATA', wireType);
    }
    // Bytes that will never be delivered are credited back to the connection window.
    this.receiveWindow.consumed += stream.stopped ? increment : finalSize - stream.reassembly.delivered;
    if (this.receiveWindow.wantsUpdate) this.maxDataPending = true;
    stream.finalSize = finalSize;
    stream.resetReceived = true;
    this.events.push({ type: 'streamReset', streamId, code, finalSize });
    this.maybeCloseStream(stream);
  }

  private onStopSending(streamId: number, code: number, wireType: number): void {
    const stream = this.streamForFrame(streamId, 'send', wireType);
    if (stream === undefined) return;
    this.events.push({ type: 'stopSending', streamId, code });
    // RFC 9000 §3.5: answer with RESET_STREAM, copying the error code.
    this.resetStream(streamId, code);
  }

  private maybeCloseStream(stream: QuicStream): void {
    if (!stream.receiveDone || !stream.sendDone || stream.resetPending || stream.stopSendingPending) return;
    this.streams.delete(stream.id);
    this.sendable.delete(stream.id);
    this.controlPending.delete(stream.id);
    const localInitiated = isClientInitiated(stream.id) === (this.role === 'client');
    if (localInitiated) return;
    // RFC 9000 §4.6: raise MAX_STREAMS as peer streams close, in batches of half the limit.
    const kind = isUnidirectional(stream.id) ? 'uni' : 'bidi';
    this.peerStreamsClosed[kind]++;
    const initial = kind === 'uni' ? this.limits.maxStreamsUni : this.limits.maxStreamsBidi;
    if (this.peerStreamsClosed[kind] + initial - this.localMaxStreams[kind] >= Math.max(1, Math.floor(initial / 2))) {
      this.localMaxStreams[kind] = this.peerStreamsClosed[kind] + initial;
      this.maxStreamsPending[kind] = true;
    }
  }

  // ─── Connection IDs and paths ─────────────────────────────────────────────────────────────────────────────────

  /** RFC 9000 §5.1.1: keep the peer supplied with up to its active_connection_id_limit CIDs. */
  private issueConnectionIds(): void {
    if (!this.handshakeComplete) return;
    const want = Math.min(this.peerParameters.activeConnectionIdLimit, this.limits.activeConnectionIdLimit);
    while (this.localCids.active.size < want && this.localCids.canIssue) {
      const cid = this.crypto.randomBytes(this.cidLength);
      this.localCids.add(cid, this.resetTokenFor(cid), true);
      this.events.push({ type: 'connectionIdIssued', connectionId: cid });
    }
  }

  /** RFC 9000 §9.3: the peer moved; validate the new path, limited by anti-amplification until then. */
  private migrateTo(remote: PathAddress): void {
    if (this.role === 'client') return;
    this.previousPath = this.path.validated ? this.path : this.previousPath;
    this.path = {
      remote, validated: false, bytesReceived: 0, bytesSent: 0,
      challenge: this.crypto.randomBytes(8), challengePending: true,
      challengeDeadline: this.now + 3 * Math.max(this.ptoDuration(), 6 * INITIAL_RTT),
      challengeResendAt: undefined, challengesSent: 0,
    };
    // §9.5: use a fresh CID on the new path when the peer gave us one.
    this.peerCids.rotate();
    // §9.4: a new address (not just a new port, which is NAT rebinding on the same path) gets fresh congestion
    // control and RTT state; what was in flight no longer counts against the new path's window.
    if (this.previousPath !== undefined && this.previousPath.remote.address !== remote.address) {
      // The new path's MTU is unknown too: back to the base size, searched again once the path is validated.
      this.pmtu.restart();
      this.pacer.setMaxDatagramSize(this.pmtu.current);
      this.congestion = this.newCongestionController();
      this.rtt = new RttEstimator();
      for (const name of SPACE_NAMES) for (const packet of this.spaces[name].sent.values()) packet.inFlight = false;
      // A probe of the old path says nothing about the new one: forget it (it has no frames to retransmit).
      const application = this.spaces.application;
      for (const packet of application.sent.values()) {
        if (packet.pmtuProbe !== true) continue;
        application.sent.delete(packet.packetNumber);
        application.ackElicitingInFlight--;
      }
    }
  }

  private onPathValidationFailed(): void {
    this.path.challengeDeadline = undefined;
    this.path.challengeResendAt = undefined;
    this.path.challenge = undefined;
    if (this.previousPath !== undefined) {
      this.path = this.previousPath;
      this.previousPath = undefined;
      return;
    }
    this.enterClosing({ type: 'connectionClose', application: false, code: TransportError.NO_VIABLE_PATH, frameType: 0, reason: 'path validation failed' });
  }

  // ─── Acknowledgments and loss recovery ────────────────────────────────────────────────────────────────────────

  private onAck(space: PacketSpace, frame: AckFrame, wireType: number): void {
    const largest = frame.ranges[0]![1];
    // RFC 9000 §13.1: acknowledging a packet number we never sent is a PROTOCOL_VIOLATION.
    if (largest >= space.nextPacketNumber) throw new QuicError(TransportError.PROTOCOL_VIOLATION, 'ACK of an unsent packet', wireType);
    space.largestAcked = space.largestAcked === undefined ? largest : Math.max(space.largestAcked, largest);
    const acked: SentPacket[] = [];
    // Look packets up by number when the ranges are narrow (the common case), else scan what is in flight:
    // either way the work is bounded by the smaller of the two, not their product.
    for (let r = frame.ranges.length - 1; r >= 0; r--) {
      const [low, high] = frame.ranges[r]!;
      if (high - low < space.sent.size) {
        for (let pn = low; pn <= high; pn++) {
          const packet = space.sent.get(pn);
          if (packet) acked.push(packet);
        }
      } else {
        for (const packet of space.sent.values()) if (packet.packetNumber >= low && packet.packetNumber <= high) acked.push(packet);
      }
    }
    if (acked.length === 0) return;
    const newest = acked[acked.length - 1]!;
    if (newest.packetNumber === largest && acked.some((p) => p.ackEliciting)) {
      // RFC 9002 §5.3: ack_delay counts only in the application space, capped by max_ack_delay once confirmed.
      let ackDelay = space.name === 'application' ? (frame.ackDelay * 2 ** this.peerParameters.ackDelayExponent) / 1000 : 0;
      if (this.handshakeConfirmed) ackDelay = Math.min(ackDelay, this.peerParameters.maxAckDelay);
      this.rtt.update(this.now - newest.timeSent, ackDelay);
    }
    for (const packet of acked) {
      space.sent.delete(packet.packetNumber);
      if (packet.ackEliciting) space.ackElicitingInFlight--;
      if (packet.inFlight) this.congestion.onAcked(packet, this.now, this.rtt.smoothed);
      if (packet.pmtuProbe === true) {
        if (this.pmtu.onProbeAcked(packet.size)) this.datagramSizeChanged();
      } else if (space.name === 'application') {
        this.pmtu.onAcked(packet.packetNumber, packet.size);
      }
      this.onFramesAcked(space, packet.frames);
      if (space.name === 'application' && packet.packetNumber >= this.firstPacketInWritePhase) this.writePhaseAcked = true;
    }
    this.detectLostPackets(space);
    this.ptoCount = 0;
    this.setLossDetectionTimer();
  }

  private onFramesAcked(space: PacketSpace, frames: SentFrameRecord[]): void {
    for (const record of frames) {
      switch (record.kind) {
        case 'crypto':
          space.cryptoSend.onAcked(record.offset, record.length, false);
          break;
        case 'stream': {
          const stream = this.streams.get(record.streamId);
          if (stream === undefined) break;
          stream.send.onAcked(record.offset, record.length, record.fin);
          this.maybeCloseStream(stream);
          break;
        }
        case 'resetStream': {
          const stream = this.streams.get(record.streamId);
          if (stream === undefined) break;
          stream.resetAcked = true;
          this.maybeCloseStream(stream);
          break;
        }
        case 'retireConnectionId':
          this.peerCids.pendingRetire.delete(record.sequence);
          break;
        default:
          break;
      }
    }
  }

  /** RFC 9002 §6.1 (Appendix A.10 DetectAndRemoveLostPackets). */
  private detectLostPackets(space: PacketSpace): void {
    if (space.largestAcked === undefined) return;
    const lossDelay = this.rtt.lossDelay;
    space.lossTime = undefined;
    const lost: SentPacket[] = [];
    for (const packet of space.sent.values()) {
      if (packet.packetNumber > space.largestAcked) break;
      // Compared as timeSent + lossDelay <= now, the same sum that sets lossTime, so the timer always makes progress.
      if (packet.timeSent + lossDelay <= this.now || space.largestAcked >= packet.packetNumber + PACKET_THRESHOLD) {
        lost.push(packet);
      } else {
        const time = packet.timeSent + lossDelay;
        space.lossTime = space.lossTime === undefined ? time : Math.min(space.lossTime, time);
      }
    }
    if (lost.length === 0) return;
    let latestLost = Number.NEGATIVE_INFINITY;
    let blackHole = false;
    for (const packet of lost) {
      space.sent.delete(packet.packetNumber);
      if (packet.ackEliciting) space.ackElicitingInFlight--;
      if (packet.inFlight) this.congestion.onRemoved(packet.size);
      if (packet.pmtuProbe === true) {
        // RFC 9000 §14.4, RFC 8899 §4.4: a lost probe says the size is too large, not that the path is congested.
        this.pmtu.onProbeLost(packet.size);
        continue;
      }
      if (packet.inFlight) latestLost = Math.max(latestLost, packet.timeSent);
      if (space.name === 'application' && packet.ackEliciting && this.pmtu.onLost(packet.packetNumber, packet.size)) blackHole = true;
      this.onFramesLost(space, packet.frames);
    }
    if (blackHole) this.onBlackHole();
    if (latestLost > Number.NEGATIVE_INFINITY) this.congestion.onCongestionEvent(latestLost, this.now);
    if (isPersistentCongestion(lost, this.rtt, this.peerParameters.maxAckDelay)) this.congestion.onPersistentCongestion();
  }

  /** Re-queues what a lost packet carried (RFC 9000 §13.3: new frames with current values, not the old packet). */
  private onFramesLost(space: PacketSpace, frames: SentFrameRecord[]): void {
    for (const record of frames) {
      switch (record.kind) {
        case 'crypto':
          space.cryptoSend.onLost(record.offset, record.length, false);
          break;
        case 'stream': {
          const stream = this.streams.get(record.streamId);
          if (stream === undefined || stream.resetCode !== undefined) break;
          stream.send.onLost(record.offset, record.length, record.fin);
          if (stream.send.hasPending) this.sendable.add(stream.id);
          break;
        }
        case 'resetStream': {
          const stream = this.streams.get(record.streamId);
          if (stream && !stream.resetAcked) {
            stream.resetPending = true;
            this.controlPending.add(stream.id);
          }
          break;
        }
        case 'stopSending': {
          const stream = this.streams.get(record.streamId);
          if (stream && !stream.receiveDone) {
            stream.stopSendingPending = true;
            this.controlPending.add(stream.id);
          }
          break;
        }
        case 'maxStreamData': {
          const stream = this.streams.get(record.streamId);
          if (stream && stream.finalSize === undefined) {
            stream.maxStreamDataPending = true;
            this.controlPending.add(stream.id);
          }
          break;
        }
        case 'maxData':
          this.maxDataPending = true;
          break;
        case 'maxStreams':
          this.maxStreamsPending[record.bidirectional ? 'bidi' : 'uni'] = true;
          break;
        case 'newConnectionId': {
          const entry = this.localCids.active.get(record.sequence);
          if (entry) entry.pending = true;
          break;
        }
        case 'retireConnectionId':
          break; // still in pendingRetire: sent again
        case 'handshakeDone':
          this.handshakeDonePending = true;
          break;
        case 'dataBlocked':
          this.dataBlockedSentAt = -1;
          break;
        default:
          break;
      }
    }
  }

  private ptoDuration(): number {
    return this.rtt.ptoBase + this.peerParameters.maxAckDelay;
  }

  /** Smallest budget worth building a datagram in: long headers until the handshake completes, short after. */
  private minSendBudget(): number {
    return this.handshakeComplete ? MIN_SHORT_SEND_BUDGET : MIN_SEND_BUDGET;
  }

  private amplificationBudget(): number {
    if (this.path.validated) return Number.POSITIVE_INFINITY;
    return Math.max(0, this.limits.amplificationFactor * this.path.bytesReceived - this.path.bytesSent);
  }

  private get ackElicitingInFlight(): boolean {
    return SPACE_NAMES.some((name) => this.spaces[name].ackElicitingInFlight > 0);
  }

  /** RFC 9002 §6.2.1 (Appendix A.8 GetPtoTimeAndSpace). */
  private ptoTimeAndSpace(): { time: number; space: PacketSpace } | undefined {
    const backoff = 2 ** Math.min(this.ptoCount, 16);
    let duration = this.rtt.ptoBase * backoff;
    if (!this.ackElicitingInFlight) {
      // Client anti-deadlock (§6.2.2.1): probe so the server can send more despite its amplification limit.
      if (this.role === 'server' || this.handshakeConfirmed) return undefined;
      const space = this.spaces.handshake.write !== undefined ? this.spaces.handshake : this.spaces.initial;
      return { time: this.now + duration, space };
    }
    let best: { time: number; space: PacketSpace } | undefined;
    for (const name of SPACE_NAMES) {
      const space = this.spaces[name];
      if (space.ackElicitingInFlight === 0 || space.timeOfLastAckEliciting === undefined) continue;
      if (name === 'application') {
        if (!this.handshakeConfirmed) return best;
        duration += this.peerParameters.maxAckDelay * backoff;
      }
      const time = space.timeOfLastAckEliciting + duration;
      if (best === undefined || time < best.time) best = { time, space };
    }
    return best;
  }

  /** RFC 9002 Appendix A.8 SetLossDetectionTimer. */
  private setLossDetectionTimer(): void {
    let earliestLoss: number | undefined;
    for (const name of SPACE_NAMES) {
      const time = this.spaces[name].lossTime;
      if (time !== undefined && (earliestLoss === undefined || time < earliestLoss)) earliestLoss = time;
    }
    if (earliestLoss !== undefined) {
      this.lossDetectionTimer = earliestLoss;
      return;
    }
    // RFC 9002 §6.2.2.1: a server blocked by the amplification limit arms no PTO (it could not send a probe anyway).
    // A handshake probe needs a full Initial datagram; on a path the peer migrated to after the handshake, any packet
    // that fits is a probe, so a short budget still arms the PTO (else packets lost on the old path are never
    // declared lost and the congestion window they fill never reopens).
    const probeSize = this.handshakeComplete ? this.minSendBudget() : MIN_INITIAL_DATAGRAM;
    if (this.role === 'server' && !this.path.validated && this.amplificationBudget() < probeSize) {
      this.lossDetectionTimer = undefined;
      return;
    }
    const pto = this.ptoTimeAndSpace();
    if (pto === undefined) {
      this.lossDetectionTimer = undefined;
      return;
    }
    if (!this.ackElicitingInFlight && this.lossDetectionTimer !== undefined && this.lossDetectionTimer > this.now) return;
    this.lossDetectionTimer = pto.time;
  }

  /** RFC 9002 Appendix A.9 OnLossDetectionTimeout. */
  private onLossDetectionTimeout(): void {
    for (const name of SPACE_NAMES) {
      const space = this.spaces[name];
      if (space.lossTime !== undefined && space.lossTime <= this.now) {
        this.detectLostPackets(space);
        this.setLossDetectionTimer();
        return;
      }
    }
    const pto = this.ptoTimeAndSpace();
    this.lossDetectionTimer = undefined;
    if (pto === undefined) return;
    this.ptoCount++;
    const space = pto.space;
    space.probes = 2;
    // A probe on a path still being validated carries the PATH_CHALLENGE again (RFC 9000 §8.2.1).
    if (this.path.challenge !== undefined) this.path.challengePending = true;
    // Probes carry data when there is some (§6.2.4): the CRYPTO data still unacknowledged, or the oldest
    // unacknowledged stream data; otherwise a PING.
    for (const packet of space.sent.values()) {
      if (!packet.ackEliciting || packet.pmtuProbe === true) continue;
      this.onFramesLost(space, packet.frames.filter((f) => f.kind === 'crypto' || f.kind === 'stream'));
      if (space.name === 'application') break;
    }
    this.lossDetectionTimer = this.now + this.rtt.ptoBase * 2 ** Math.min(this.ptoCount, 16);
  }

  private onBlackHole(): void {
    this.pmtu.onBlackHole();
    this.datagramSizeChanged();
  }

  /** RFC 9002 §7.2: the congestion controller and the pacer count in datagrams of the size in use. */
  private datagramSizeChanged(): void {
    this.congestion.setMaxDatagramSize(this.pmtu.current);
    this.pacer.setMaxDatagramSize(this.pmtu.current);
  }

  // ─── Sending ──────────────────────────────────────────────────────────────────────────────────────────────────

  private buildDatagram(): Uint8Array | undefined {
    const probing = SPACE_NAMES.some((name) => this.spaces[name].probes > 0);
    // RFC 8899 §4.3: from the second PTO in a row, PTO probes go at the base size, which every path carries. Should
    // they be acknowledged while the full-size packets before them are not, those are declared lost with nothing
    // full-size acknowledged after them: the black-hole signal PathMtu.onLost counts. A merely lossy path soon gets
    // a later full-size packet through, which resets the count.
    const size = probing && this.ptoCount >= BLACK_HOLE_PTOS ? BASE_PLPMTU : this.pmtu.current;
    const budget = Math.min(size, this.amplificationBudget());
    const minimum = this.minSendBudget();
    if (budget < minimum) return undefined;
    let congestionAllowed = probing || this.congestion.available > 0;
    if (congestionAllowed && !probing) {
      const paceAt = this.pacer.nextSendTime(this.now, this.congestion.congestionWindow, this.rtt.smoothed);
      if (paceAt !== undefined) {
        congestionAllowed = false;
        if (this.hasDataToSend()) this.pacingDeadline = paceAt;
      }
    }
    if (this.packetsInWritePhase >= KEY_UPDATE_PACKET_THRESHOLD) this.requestKeyUpdate();
    if (congestionAllowed && !probing) {
      const probe = this.pmtuProbeDue();
      if (probe !== undefined) return this.buildPmtuProbe(probe);
    }
    const packets: PlainPacket[] = [];
    let used = 0;
    for (const name of SPACE_NAMES) {
      const space = this.spaces[name];
      // Before 1-RTT keys, a client with 0-RTT keys sends application data in 0-RTT packets.
      const zeroRtt = name === 'application' && space.write === undefined && this.earlyWrite !== undefined;
      if ((space.write === undefined && !zeroRtt) || space.discarded) continue;
      const packet = this.buildPacket(space, budget - used, congestionAllowed, zeroRtt);
      if (packet === undefined) continue;
      packets.push(packet);
      used += packet.headerLength + packet.payload.length + AEAD_TAG_LENGTH;
      if (budget - used < minimum) break;
    }
    if (packets.length === 0) return undefined;
    const datagram = this.finishDatagram(packets, used, budget);
    // RFC 9001 §4.9.1: a client discards Initial keys when it first sends a Handshake packet.
    if (this.role === 'client' && packets.some((p) => p.space.name === 'handshake')) this.discardSpace(this.spaces.initial);
    return datagram;
  }

  /**
   * RFC 9000 §14.3: probes only once the handshake is confirmed, on a validated path (so the amplification limit,
   * §8.1, never applies to them), and within the congestion window like any in-flight packet (RFC 8899 §4.6).
   */
  private pmtuProbeDue(): number | undefined {
    if (!this.handshakeConfirmed || !this.path.validated || this.spaces.application.write === undefined) return undefined;
    this.pmtu.start(this.peerParameters.maxUdpPayloadSize);
    const size = this.pmtu.nextProbe();
    if (size === undefined || this.congestion.available < size) return undefined;
    return size;
  }

  /** A PMTU probe (RFC 9000 §14.4): a 1-RTT packet of exactly `size` bytes on the wire, PING then PADDING. */
  private buildPmtuProbe(size: number): Uint8Array {
    const space = this.spaces.application;
    const packetNumber = space.nextPacketNumber++;
    const pnLength = packetNumberLength(packetNumber, space.largestAcked);
    const headerLength = this.headerLength(space, pnLength);
    const payload = space.payloadWriter.reset();
    encodeFrame(payload, { type: 'ping' });
    while (headerLength + payload.length + AEAD_TAG_LENGTH < size) payload.uint8(0);
    this.pmtu.onProbeSent(size);
    const datagram = this.sealPacket({ space, packetNumber, pnLength, headerLength, payload, frames: [], ackEliciting: true, padDatagram: false, pmtuProbe: true }, true);
    this.path.bytesSent += datagram.byteLength;
    return datagram;
  }

  /** Pads (when required), seals and counts one datagram's packets. */
  private finishDatagram(packets: PlainPacket[], used: number, budget: number): Uint8Array {
    // RFC 9000 §14.1: datagrams with a client Initial, or a server's ack-eliciting Initial, are padded to 1200 bytes;
    // §8.2.1: so are those carrying PATH_CHALLENGE / PATH_RESPONSE (when the amplification budget allows).
    if (packets.some((p) => p.padDatagram) && used < MIN_INITIAL_DATAGRAM) {
      const target = Math.min(MIN_INITIAL_DATAGRAM, budget);
      const last = packets[packets.length - 1]!;
      for (let i = used; i < target; i++) last.payload.uint8(0);
    }
    // A lone packet is the datagram itself, so its header protection can wait for the batch; coalesced packets are
    // copied into one datagram, so theirs is applied first.
    const datagram = packets.length === 1 ? this.sealPacket(packets[0]!, true) : concatBytes(packets.map((packet) => this.sealPacket(packet, false)));
    this.path.bytesSent += datagram.byteLength;
    return datagram;
  }

  private hasDataToSend(): boolean {
    return this.sendable.size > 0 || this.controlPending.size > 0 || this.maxDataPending || this.handshakeDonePending || SPACE_NAMES.some((n) => this.spaces[n].cryptoSend.hasPending);
  }

  private headerLength(space: PacketSpace, pnLength: number, zeroRtt = false): number {
    const dcid = this.peerCids.current?.cid ?? this.initialDestinationCid;
    if (space.name === 'application' && !zeroRtt) return 1 + dcid.byteLength + pnLength;
    const scid = this.localCids.active.get(0)?.cid ?? this.localConnectionIds[0]!;
    const tokenLength = space.name === 'initial' ? (this.role === 'client' ? this.token.byteLength : 0) : -1;
    const tokenField = tokenLength < 0 ? 0 : (tokenLength < 64 ? 1 : 2) + tokenLength;
    return 1 + 4 + 1 + dcid.byteLength + 1 + scid.byteLength + tokenField + 2 + pnLength;
  }

  /** Fills one packet for a space with what is due, within maxSize bytes on the wire. */
  private buildPacket(space: PacketSpace, maxSize: number, congestionAllowed: boolean, zeroRtt = false): PlainPacket | undefined {
    const packetNumber = space.nextPacketNumber;
    const pnLength = packetNumberLength(packetNumber, space.largestAcked);
    const headerLength = this.headerLength(space, pnLength, zeroRtt);
    const capacity = maxSize - headerLength - AEAD_TAG_LENGTH;
    if (capacity < 32) return undefined;
    // One reusable payload writer per space: a datagram holds at most one packet per space, and each datagram is
    // sealed before the next is built (allocating fresh buffers per packet showed up in profiles).
    const b = new PacketContents(space.payloadWriter.reset(), capacity);

    // ACK first (never congestion controlled, RFC 9002 §7).
    let ackAdded = false;
    const ackDue = space.ackPending && space.ackDeadline !== undefined && space.ackDeadline <= this.now;
    // RFC 9000 §12.4: no ACK in 0-RTT packets.
    if (space.ackPending && !space.received.isEmpty && !zeroRtt) {
      // Each extra range costs at most 16 bytes (two 8-byte varints) after a ≤ 25-byte head: cap the count to fit.
      b.add(this.ackFrame(space, Math.max(1, Math.floor((b.room() - 25) / 16) + 1)));
      ackAdded = true;
    }
    // RFC 9000 §9.3 / §8.2.1: a PATH_CHALLENGE probes a path the peer moved to. It is not held behind a congestion
    // window full of packets sent to the old address (that window only drains through the new path); the path's
    // anti-amplification budget (§8.1, §9.3.1) is what bounds it, and buildDatagram already sizes to that budget.
    if (space.name === 'application' && !zeroRtt && this.handshakeComplete) this.addPathChallenge(b);
    if (congestionAllowed) {
      if (space.name === 'application' && !zeroRtt) this.addControlFrames(b);
      // CRYPTO.
      while (space.cryptoSend.hasPending && b.room() > 16) {
        const chunk = space.cryptoSend.nextChunk(b.room() - cryptoFrameOverhead(space.cryptoSend.writtenEnd, b.room()), Number.MAX_SAFE_INTEGER);
        if (chunk === undefined) break;
        b.add({ type: 'crypto', offset: chunk.offset, data: chunk.data }, { kind: 'crypto', offset: chunk.offset, length: chunk.data.byteLength });
      }
      if (space.name === 'application' && (this.handshakeComplete || zeroRtt)) this.addStreamFrames(b);
      if (space.probes > 0 && !b.ackEliciting && b.room() > 1) b.add({ type: 'ping' });
    }
    if (!ackAdded && !b.ackEliciting) return undefined;
    // An ACK alone is sent only when due (not merely because something else was due in another space).
    if (!b.ackEliciting && ackAdded && !ackDue) return undefined;
    if (ackAdded) {
      space.ackPending = false;
      space.ackElicitingSinceAck = 0;
      space.ackDeadline = undefined;
    }
    if (space.probes > 0 && b.ackEliciting) space.probes--;
    if (space.name === 'initial' && (this.role === 'client' || b.ackEliciting)) b.padDatagram = true;
    // RFC 9001 §5.4.2: enough payload for the header-protection sample.
    while (pnLength + b.payload.length < 4) b.payload.uint8(0);
    space.nextPacketNumber++;
    return { space, packetNumber, pnLength, headerLength, payload: b.payload, frames: b.frames, ackEliciting: b.ackEliciting, padDatagram: b.padDatagram, zeroRtt };
  }

  private addPathChallenge(b: PacketContents): void {
    const path = this.path;
    if (!path.challengePending || path.challenge === undefined || b.room() <= 9) return;
    path.challengePending = false;
    b.add({ type: 'pathChallenge', data: path.challenge });
    // Sent again after a PTO (doubling) while unanswered: one lost datagram must not fail the validation.
    path.challengeResendAt = this.now + this.ptoDuration() * 2 ** Math.min(path.challengesSent, 16);
    path.challengesSent++;
  }

  private addControlFrames(b: PacketContents): void {
    if (this.handshakeDonePending && b.room() > 1) {
      this.handshakeDonePending = false;
      b.add({ type: 'handshakeDone' }, { kind: 'handshakeDone' });
    }
    for (let i = 0; i < this.pathResponses.length && b.room() > 9; ) {
      const response = this.pathResponses[i]!;
      if (!sameAddress(response.remote, this.path.remote)) {
        i++;
        continue;
      }
      this.pathResponses.splice(i, 1);
      b.add({ type: 'pathResponse', data: response.data });
    }
    for (const sequence of this.peerCids.pendingRetire) {
      if (b.room() < 10) break;
      b.add({ type: 'retireConnectionId', sequence }, { kind: 'retireConnectionId', sequence });
    }
    for (const entry of this.localCids.active.values()) {
      if (!entry.pending || b.room() < 45) continue;
      entry.pending = false;
      b.add(
        { type: 'newConnectionId', sequence: entry.sequence, retirePriorTo: this.localCids.retirePriorTo, connectionId: entry.cid, resetToken: entry.resetToken },
        { kind: 'newConnectionId', sequence: entry.sequence },
      );
    }
    if (this.maxDataPending && b.room() > 9) {
      this.maxDataPending = false;
      b.add({ type: 'maxData', maximum: this.receiveWindow.advance(this.now, this.rtt.smoothed) }, { kind: 'maxData' });
    }
    for (const kind of ['bidi', 'uni'] as const) {
      if (this.maxStreamsPending[kind] && b.room() > 9) {
        this.maxStreamsPending[kind] = false;
        b.add({ type: 'maxStreams', bidirectional: kind === 'bidi', maximum: this.localMaxStreams[kind] }, { kind: 'maxStreams', bidirectional: kind === 'bidi' });
      }
    }
    for (const kind of ['bidi', 'uni'] as const) {
      if (this.streamsBlockedPending[kind] && b.room() > 9) {
        this.streamsBlockedPending[kind] = false;
        b.add({ type: 'streamsBlocked', bidirectional: kind === 'bidi', limit: this.peerMaxStreams[kind] });
      }
    }
    if (this.dataBlockedPending && b.room() > 9) {
      this.dataBlockedPending = false;
      b.add({ type: 'dataBlocked', limit: this.peerMaxData }, { kind: 'dataBlocked' });
    }
    for (const id of [...this.controlPending]) {
      if (b.room() < 30) break;
      this.controlPending.delete(id);
      const stream = this.streams.get(id);
      if (stream === undefined) continue;
      if (stream.resetPending) {
        stream.resetPending = false;
        b.add({ type: 'resetStream', streamId: id, code: stream.resetCode!, finalSize: stream.send.highestSent }, { kind: 'resetStream', streamId: id });
      }
      if (stream.stopSendingPending) {
        stream.stopSendingPending = false;
        b.add({ type: 'stopSending', streamId: id, code: stream.stopSendingCode! }, { kind: 'stopSending', streamId: id });
      }
      if (stream.maxStreamDataPending) {
        stream.maxStreamDataPending = false;
        if (stream.finalSize === undefined && !stream.stopped) {
          b.add({ type: 'maxStreamData', streamId: id, maximum: stream.receiveWindow.advance(this.now, this.rtt.smoothed) }, { kind: 'maxStreamData', streamId: id });
        }
      }
      this.maybeCloseStream(stream);
    }
  }

  private addStreamFrames(b: PacketContents): void {
    for (const id of [...this.sendable]) {
      if (b.room() < 24) return;
      const stream = this.streams.get(id);
      if (stream === undefined || stream.resetCode !== undefined) {
        this.sendable.delete(id);
        continue;
      }
      const connectionCredit = this.peerMaxData - this.dataSent;
      const maxOffset = Math.min(stream.peerMaxStreamData, stream.send.highestSent + Math.max(0, connectionCredit));
      const overhead = streamFrameOverhead(id, stream.send.writtenEnd, b.room());
      const before = stream.send.highestSent;
      const chunk = stream.send.nextChunk(b.room() - overhead, maxOffset);
      if (chunk === undefined) {
        if (connectionCredit <= 0 && this.dataBlockedSentAt !== this.peerMaxData) {
          // RFC 9000 §4.1: tell the peer we are blocked by its connection limit (once per limit).
          this.dataBlockedSentAt = this.peerMaxData;
          this.dataBlockedPending = true;
        }
        if (!stream.send.hasPending) this.sendable.delete(id);
        continue;
      }
      this.dataSent += stream.send.highestSent - before;
      b.add({ type: 'stream', streamId: id, offset: chunk.offset, data: chunk.data, fin: chunk.fin }, {
        kind: 'stream', streamId: id, offset: chunk.offset, length: chunk.data.byteLength, fin: chunk.fin,
      });
      // Round robin: a stream that sent goes to the back of the queue.
      this.sendable.delete(id);
      if (stream.send.hasPending) this.sendable.add(id);
      if (stream.writeBlocked && stream.send.unsent <= this.limits.streamSendHighWater) {
        stream.writeBlocked = false;
        this.events.push({ type: 'streamWritable', streamId: id });
      }
    }
  }

  /** RFC 9000 §19.3: ranges descending; ack_delay in microseconds scaled by our ack_delay_exponent (default 3). */
  private ackFrame(space: PacketSpace, maxRanges: number): AckFrame {
    const ranges = space.received.descending().slice(0, Math.min(32, maxRanges)).map(([start, end]): [number, number] => [start, end - 1]);
    const delayMicros = space.name === 'application' ? Math.max(0, Math.round((this.now - space.largestReceivedTime) * 1000)) : 0;
    return { type: 'ack', ranges, ackDelay: Math.floor(delayMicros / 2 ** DEFAULT_TRANSPORT_PARAMETERS.ackDelayExponent) };
  }

  /** AEAD and header protection (RFC 9001 §5); with `batchHeaderProtection`, the latter when the send ends. */
  private sealPacket(packet: PlainPacket, batchHeaderProtection: boolean): Uint8Array {
    const space = packet.space;
    const dcid = this.peerCids.current?.cid ?? this.initialDestinationCid;
    let header: { header: Uint8Array; pnOffset: number };
    const keys = packet.zeroRtt ? this.earlyWrite! : space.write!;
    if (packet.zeroRtt) {
      const scid = this.localCids.active.get(0)?.cid ?? this.localConnectionIds[0]!;
      header = encodeLongHeader('zeroRtt', dcid, scid, new Uint8Array(0), packet.packetNumber, packet.pnLength, packet.pnLength + packet.payload.length + AEAD_TAG_LENGTH, this.headerWriter);
      this.zeroRttSent.add(packet.packetNumber);
    } else if (space.name === 'application') {
      header = encodeShortHeader(dcid, packet.packetNumber, packet.pnLength, this.writeKeyPhase, this.headerWriter);
      this.packetsInWritePhase++;
    } else {
      const scid = this.localCids.active.get(0)?.cid ?? this.localConnectionIds[0]!;
      const token = space.name === 'initial' && this.role === 'client' ? this.token : new Uint8Array(0);
      header = encodeLongHeader(space.name, dcid, scid, token, packet.packetNumber, packet.pnLength, packet.pnLength + packet.payload.length + AEAD_TAG_LENGTH, this.headerWriter);
    }
    const plaintext = packet.payload.finish();
    let sealed: Uint8Array;
    if (batchHeaderProtection) {
      sealed = keys.packet.seal(header.header, plaintext, packet.packetNumber);
      this.headerProtection.add(keys.hp, sealed, header.pnOffset);
    } else {
      sealed = protectPacket(keys, header.header, header.pnOffset, plaintext, packet.packetNumber);
    }
    if (this.onPacket) this.tracePacket(packet, plaintext, sealed.byteLength);
    const inFlight = packet.ackEliciting || packet.padDatagram;
    const record: SentPacket = { packetNumber: packet.packetNumber, timeSent: this.now, size: sealed.byteLength, ackEliciting: packet.ackEliciting, inFlight, frames: packet.frames };
    if (packet.pmtuProbe === true) record.pmtuProbe = true;
    if (packet.ackEliciting || packet.frames.length > 0) space.sent.set(packet.packetNumber, record);
    if (inFlight) {
      this.congestion.onSent(sealed.byteLength);
      this.pacer.onSent(sealed.byteLength);
    }
    if (packet.ackEliciting) {
      space.ackElicitingInFlight++;
      space.timeOfLastAckEliciting = this.now;
      // RFC 9000 §10.1: sending the first ack-eliciting packet after receiving restarts the idle timer.
      if (!this.ackElicitingSentSinceReceive) {
        this.ackElicitingSentSinceReceive = true;
        this.resetIdleTimer();
      }
    }
    return sealed;
  }

  /** Sealing copies the plaintext, so it can still be decoded for the trace. */
  private tracePacket(packet: PlainPacket, plaintext: Uint8Array, size: number): void {
    const type = packet.zeroRtt ? 'zeroRtt' : packet.space.name === 'application' ? 'oneRtt' : packet.space.name;
    const frames = decodeFrames(plaintext, type).map((decoded) => decoded.frame);
    this.onPacket!({ direction: 'out', type, packetNumber: packet.packetNumber, size, frames, ...(packet.pmtuProbe === true ? { pmtuProbe: true } : {}) });
  }

  private buildPathResponseDatagram(data: Uint8Array): Uint8Array {
    const space = this.spaces.application;
    const payload = new BufferWriter(16);
    encodeFrame(payload, { type: 'pathResponse', data });
    const packetNumber = space.nextPacketNumber++;
    const pnLength = packetNumberLength(packetNumber, space.largestAcked);
    return this.sealPacket({ space, packetNumber, pnLength, headerLength: 0, payload, frames: [], ackEliciting: true, padDatagram: false }, true);
  }

  // ─── Closing ──────────────────────────────────────────────────────────────────────────────────────────────────

  private closeOnError(error: unknown): void {
    if (error instanceof QuicError) {
      this.enterClosing({ type: 'connectionClose', application: false, code: error.code, frameType: error.frameType, reason: error.reason });
      return;
    }
    this.enterClosing({ type: 'connectionClose', application: false, code: TransportError.INTERNAL_ERROR, frameType: 0, reason: 'internal error' });
    throw error;
  }

  private enterClosing(frame: Extract<Frame, { type: 'connectionClose' }>): void {
    if (this.state === 'closing' || this.state === 'draining' || this.state === 'closed') return;
    this.closeFrame = frame;
    this.state = 'closing';
    this.closeSendPending = true;
    this.closeDeadline = this.now + 3 * this.ptoDuration();
    this.terminate(frame.code, frame.reason, frame.application, false);
  }

  private terminate(code: number, reason: string, application: boolean, byPeer: boolean): void {
    this.events.push({ type: 'connectionTerminated', code, reason, application, byPeer });
  }

  /** RFC 9000 §10.2.3: CONNECTION_CLOSE in every space the peer may be able to read. */
  private buildCloseDatagram(): Uint8Array | undefined {
    const frame = this.closeFrame!;
    const packets: PlainPacket[] = [];
    const budget = Math.min(this.pmtu.current, this.amplificationBudget());
    let used = 0;
    for (const name of SPACE_NAMES) {
      const space = this.spaces[name];
      if (space.write === undefined || space.discarded) continue;
      if (name === 'application' && !this.handshakeComplete && this.role === 'client') continue;
      const sent: Frame = name !== 'application' && frame.application
        ? { type: 'connectionClose', application: false, code: TransportError.APPLICATION_ERROR, frameType: 0, reason: '' }
        : frame;
      const payload = new BufferWriter(64);
      encodeFrame(payload, sent);
      const packetNumber = space.nextPacketNumber++;
      const pnLength = packetNumberLength(packetNumber, space.largestAcked);
      const headerLength = this.headerLength(space, pnLength);
      const size = headerLength + payload.length + AEAD_TAG_LENGTH;
      if (used + size > budget) break;
      used += size;
      const padDatagram = name === 'initial' && this.role === 'client';
      packets.push({ space, packetNumber, pnLength, headerLength, payload, frames: [], ackEliciting: false, padDatagram });
    }
    return packets.length === 0 ? undefined : this.finishDatagram(packets, used, budget);
  }

  private resetIdleTimer(): void {
    // RFC 9000 §10.1: at least three PTOs, so a few lost packets cannot time the connection out.
    this.idleDeadline = this.idleTimeout > 0 ? this.now + Math.max(this.idleTimeout, 3 * this.ptoDuration()) : undefined;
    // Before the handshake completes the shorter limits.handshakeTimeout applies (Initial floods): a client that
    // went silent after its Initial is forgotten sooner, one still making progress over a lossy path is not.
    if (!this.handshakeComplete) {
      const handshakeDeadline = this.now + Math.max(this.limits.handshakeTimeout, 3 * this.ptoDuration());
      if (this.idleDeadline === undefined || handshakeDeadline < this.idleDeadline) this.idleDeadline = handshakeDeadline;
    }
  }
}
