/** batchlab's version, printed by `batchlab --version` and stored with every experiment. */
export const BATCHLAB_VERSION = '0.1.0';
