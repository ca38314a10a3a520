/** Where the local CA lives. */
import { homedir } from 'node:os';
import { posix, win32 } from 'node:path';

/**
 * The CA folder: HTTPSD_CAROOT when set; otherwise the per-user data directory of the platform —
 * $XDG_DATA_HOME/httpsd (~/.local/share/httpsd) on Linux and other Unixes (XDG Base Directory spec),
 * ~/Library/Application Support/httpsd on macOS, %LOCALAPPDATA%\httpsd on Windows.
 */
export function caRoot(env: NodeJS.ProcessEnv = process.env, platform: NodeJS.Platform = process.platform): string {
  if (env.HTTPSD_CAROOT) return env.HTTPSD_CAROOT;
  if (platform === 'win32') {
    const local = env.LOCALAPPDATA || win32.join(env.USERPROFILE || homedir(), 'AppData', 'Local');
    return win32.join(local, 'httpsd');
  }
  const home = env.HOME || homedir();
  if (platform === 'darwin') return posix.join(home, 'Library', 'Application Support', 'httpsd');
  // XDG Base Directory spec: a relative XDG_DATA_HOME is invalid and must be ignored.
  const xdg = env.XDG_DATA_HOME && posix.isAbsolute(env.XDG_DATA_HOME) ? env.XDG_DATA_HOME : posix.join(home, '.local', 'share');
  return posix.join(xdg, 'httpsd');
}
