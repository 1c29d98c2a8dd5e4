export { exportModel, EXPORT_FILES, type ExportRequest, type ExportResult } from './export';
export { importModel, type ImportRequest, type ImportResult } from './import';
export { bytesToUnicode, gpt2FilesOf, gpt2Spelling, mapGpt2Vocabulary, parseGpt2Files } from './gpt2Vocab';
export { readFloatSafetensors } from './safetensorsRead';
export { hfConfig, configFromHf, hfIncompatibilities, EXPORT_FORMAT, MODERN_MODEL_TYPE } from './hfLayout';
