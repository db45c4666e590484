import { tmpdir } from 'node:os';
import { describeOption, failOption } from '../../option-checks.js';

/**
 * The `file` engine's `filePath` option (Django's `SESSION_FILE_PATH`): a directory path, by
 * default the OS temp directory (Django's `tempfile.gettempdir()`). Validated at boot.
 */
export function resolveFilePath(input: unknown): string {
  const filePath = input ?? tmpdir();
  if (typeof filePath !== 'string' || filePath.length === 0 || filePath.includes('\0')) {
    failOption('filePath', `must be a directory path, got ${describeOption(filePath)}`);
  }
  return filePath;
}
