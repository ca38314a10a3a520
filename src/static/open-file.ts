/**
 * A read-only file descriptor with promise methods over the callback fs API.
 *
 * fs/promises' FileHandle costs about twice as much per operation (each handle is a transferable object and every
 * call goes through its promise machinery), which shows on small static files where the handful of open / fstat /
 * read / close calls is the whole request. The descriptor is closed at most once: a second close of a reused
 * descriptor number would close some other file.
 */
import { close, constants, fstat, open, read } from 'node:fs';
import type { Stats } from 'node:fs';

/**
 * Safety net: a descriptor whose owner was garbage-collected without closing it (a response body nobody read or
 * cancelled) is closed then, like FileHandle does, instead of leaking until the process runs out of descriptors.
 */
const leakedDescriptors = new FinalizationRegistry<number>((fd) => close(fd, () => {}));

export class OpenFile {
  readonly fd: number;
  #closed = false;

  private constructor(fd: number) {
    this.fd = fd;
    leakedDescriptors.register(this, fd, this);
  }

  /** Opens for reading. O_NONBLOCK: a FIFO swapped in for a file must not hang a thread-pool thread waiting for a writer. */
  static open(path: string): Promise<OpenFile> {
    return new Promise((resolve, reject) => {
      open(path, constants.O_RDONLY | constants.O_NONBLOCK, (error, fd) => (error ? reject(error) : resolve(new OpenFile(fd))));
    });
  }

  get closed(): boolean {
    return this.#closed;
  }

  stat(): Promise<Stats> {
    if (this.#closed) return Promise.reject(new Error('file already closed'));
    return new Promise((resolve, reject) => fstat(this.fd, (error, stats) => (error ? reject(error) : resolve(stats))));
  }

  /** Reads up to `length` bytes at `position` into `buffer` at `offset`; resolves with the count (0 at end of file). */
  read(buffer: Uint8Array, offset: number, length: number, position: number): Promise<number> {
    if (this.#closed) return Promise.reject(new Error('file already closed'));
    return new Promise((resolve, reject) =>
      read(this.fd, buffer, offset, length, position, (error, bytesRead) => (error ? reject(error) : resolve(bytesRead))),
    );
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    leakedDescriptors.unregister(this);
    close(this.fd, () => {});
  }
}
