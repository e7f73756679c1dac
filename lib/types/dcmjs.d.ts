// dcmjs ships no type declarations; these cover the part fedrad uses (writing Part 10 files, and
// reading them back in tests).
declare module 'dcmjs' {
  export namespace data {
    class DicomDict {
      constructor(meta: Record<string, unknown>);
      dict: Record<string, unknown>;
      meta: Record<string, unknown>;
      write(options?: Record<string, unknown>): ArrayBuffer;
    }
    class DicomMessage {
      static readFile(buffer: ArrayBuffer, options?: Record<string, unknown>): DicomDict;
    }
    const DicomMetaDictionary: {
      denaturalizeDataset(dataset: Record<string, unknown>): Record<string, unknown>;
      naturalizeDataset(dataset: Record<string, unknown>): Record<string, any>;
    };
  }
  const dcmjs: { data: typeof data };
  export default dcmjs;
}
