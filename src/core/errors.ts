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
