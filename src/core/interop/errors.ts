import { GptLabError } from '../errors';

/** Why an import (or export) cannot go on: the file, the tensor or the field, and what is wrong with it. */
export function badImport(message: string): GptLabError {
  return new GptLabError(message, 'BAD_IMPORT');
}
