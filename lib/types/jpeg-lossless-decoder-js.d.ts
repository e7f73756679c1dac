// The one class fedrad uses from jpeg-lossless-decoder-js (the package ships no declarations).
declare module 'jpeg-lossless-decoder-js' {
  export class Decoder {
    constructor(buffer?: ArrayBuffer, numBytes?: number);
    /** decodes a JPEG lossless (process 14) codestream; one element per sample */
    decode(buffer: ArrayBuffer, offset: number, length: number, numBytes: number): Uint8Array | Uint16Array;
  }
}
