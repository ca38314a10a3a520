/**
 * The one place @peculiar/x509 is loaded. Its dependency injection container (tsyringe) needs the Reflect metadata
 * API before it is evaluated, and it signs and hashes through WebCrypto, which Node backs with OpenSSL.
 * Import x509 from here, never from '@peculiar/x509' directly, so the order is always right.
 */
import 'reflect-metadata';
import { webcrypto } from 'node:crypto';
import * as x509 from '@peculiar/x509';

x509.cryptoProvider.set(webcrypto as unknown as Crypto);

export { x509 };
