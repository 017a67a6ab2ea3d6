/**
 * Error kinds shared by the CLI, activities and workflows. `UserError`s are problems with what
 * the user gave (config, dataset, arguments): they are non-retryable and their message names the
 * field or file. Activities map them to non-retryable ApplicationFailures by their `type`.
 */
export class UserError extends Error {
  constructor(message: string, readonly type: string = 'UserError') {
    super(message);
    this.name = type;
  }
}

/** Invalid run/stack configuration; the message names the field and the rule. */
export class InvalidConfigError extends UserError {
  constructor(message: string) {
    super(message, 'InvalidConfig');
  }
}

/** A dataset that cannot be ingested; `problems` lists every file and what is wrong with it. */
export class DatasetInvalidError extends UserError {
  constructor(readonly problems: string[]) {
    super(`dataset rejected (${problems.length} problem${problems.length === 1 ? '' : 's'}):\n  - ${problems.join('\n  - ')}`, 'DatasetInvalid');
  }
}

/** A dataset or artifact key that escapes its root (path traversal). */
export class InvalidDatasetKeyError extends UserError {
  constructor(readonly offenders: string[]) {
    super(`invalid dataset key(s): ${offenders.join(', ')}`, 'InvalidDatasetKey');
  }
}

/** Stored bytes whose hash does not match their manifest. */
export class IntegrityError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'IntegrityError';
  }
}

export const NON_RETRYABLE_ERROR_TYPES = ['UserError', 'InvalidConfig', 'DatasetInvalid', 'InvalidDatasetKey'];
