// The one error base of fedrad: every error names what was wrong and where, and keeps its cause.
export class FedradError extends Error {
  readonly context: Record<string, unknown>;
  constructor(message: string, context: Record<string, unknown> = {}, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
    this.context = context;
  }
}

/** A model uses an op the training-graph builder cannot differentiate (or an unsupported form of one). */
export class UnsupportedOpError extends FedradError {}
/** Tensor shapes in a model (or fed to it) do not fit together. */
export class ShapeError extends FedradError {}
/** A file is not a valid ONNX or safetensors file. */
export class ModelFormatError extends FedradError {}
/** Training produced a NaN or infinite loss; training stops at that step. */
export class NonFiniteLossError extends FedradError {}
/** A training or model option is out of range. */
export class InvalidSpecError extends FedradError {}
/** One DICOM file cannot be read; the rest of its dataset still loads. */
export class DicomFileError extends FedradError {}
/** A site's data no longer matches its dataset manifest (files changed, missing or added). */
export class DataIntegrityError extends FedradError {}
/** A site's dataset is unusable as a whole (no manifest, no readable images, bad labels file). */
export class DatasetError extends FedradError {}
