// The layout of a site's data/ folder (or bucket prefix). One place names every path.
export const MANIFEST_PATH = 'manifest.json';
export const LABELS_PATH = 'labels.csv';
export const IMAGES_DIR = 'images/';
export const MASKS_DIR = 'masks/';

export const isImagePath = (p: string) => p.startsWith(IMAGES_DIR);
export const isMaskPath = (p: string) => p.startsWith(MASKS_DIR);
/** Mask fallback when a mask file has no reference: the same file name under masks/. */
export const maskPathFor = (imagePath: string) => MASKS_DIR + imagePath.slice(IMAGES_DIR.length);
