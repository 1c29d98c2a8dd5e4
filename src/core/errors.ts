/** An error a user can act on: its message says what happened and what to do next. */
export class GptLabError extends Error {
  constructor(
    message: string,
    /** A stable machine-readable code (CLI --json, host messages). */
    readonly code: string,
  ) {
    super(message);
    this.name = 'GptLabError';
  }
}

/** System error codes of storage that cannot take a write: the disk is full, or the folder is not writable. */
const DISK_FULL_CODES = ['ENOSPC', 'EDQUOT', 'EFBIG'];
const NOT_WRITABLE_CODES = ['EROFS', 'EACCES', 'EPERM'];

/**
 * A full disk or an unwritable folder said in words (DISK_FULL, NOT_WRITABLE), with what was being done and what
 * is still safe; undefined for any other error (which stays as it is).
 */
export function storageError(err: unknown, doing: string, safe = ''): GptLabError | undefined {
  if (err instanceof GptLabError) return undefined;
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  const after = safe ? ` ${safe}` : '';
  if (code !== undefined && DISK_FULL_CODES.includes(code)) {
    return new GptLabError(
      `The disk is full: ${doing} failed (${code}).${after} Free some space and try again.`,
      'DISK_FULL',
    );
  }
  if (code !== undefined && NOT_WRITABLE_CODES.includes(code)) {
    const why = code === 'EROFS' ? 'the file system is read-only' : 'permission denied';
    const where = (err as NodeJS.ErrnoException).path;
    return new GptLabError(
      `Cannot write${where ? ` ${where}` : ''}: ${why}, so ${doing} failed.${after} Choose a writable folder or fix its permissions.`,
      'NOT_WRITABLE',
    );
  }
  return undefined;
}
