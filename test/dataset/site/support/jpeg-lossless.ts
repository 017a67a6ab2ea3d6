/**
 * A minimal JPEG lossless encoder (ITU T.81 process 14: SOF3, Huffman, one component, predictor
 * selection 1 = left neighbour, point transform 0), to build JPEG-lossless DICOM fixtures. One
 * Huffman table: the 17 difference categories SSSS 0..16 all get 5-bit codes 0..16, which is a
 * valid (if not optimal) table. No restart intervals.
 */
export function encodeJpegLossless(samples: ArrayLike<number>, width: number, height: number, precision: number): Uint8Array {
  const out: number[] = [];
  const u16 = (v: number): void => void out.push((v >> 8) & 0xff, v & 0xff);
  const marker = (m: number): void => u16(0xff00 | m);
  marker(0xd8); // SOI
  marker(0xc4); // DHT: class 0 (DC/lossless), table 0
  u16(2 + 1 + 16 + 17);
  out.push(0x00);
  for (let len = 1; len <= 16; len++) out.push(len === 5 ? 17 : 0);
  for (let s = 0; s <= 16; s++) out.push(s);
  marker(0xc3); // SOF3
  u16(8 + 3);
  out.push(precision);
  u16(height);
  u16(width);
  out.push(1, 1, 0x11, 0);
  marker(0xda); // SOS
  u16(6 + 2);
  out.push(1, 1, 0x00, 1 /* Ss: predictor 1 */, 0 /* Se */, 0 /* Ah/Al */);

  let acc = 0;
  let bits = 0;
  const put = (value: number, n: number): void => {
    for (let i = n - 1; i >= 0; i--) {
      acc = (acc << 1) | ((value >> i) & 1);
      if (++bits === 8) {
        out.push(acc);
        if (acc === 0xff) out.push(0x00);
        acc = 0;
        bits = 0;
      }
    }
  };
  const modulus = 1 << 16;
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const i = y * width + x;
      const pred = x > 0 ? (samples[i - 1] as number) : y > 0 ? (samples[i - width] as number) : 1 << (precision - 1);
      let diff = ((samples[i] as number) - pred) % modulus;
      if (diff > 32768) diff -= modulus;
      if (diff < -32767) diff += modulus;
      const ssss = diff === 0 ? 0 : Math.floor(Math.log2(Math.abs(diff))) + 1;
      put(ssss, 5);
      if (ssss > 0 && ssss < 16) put(diff > 0 ? diff : diff + (1 << ssss) - 1, ssss);
    }
  }
  if (bits > 0) put((1 << (8 - bits)) - 1, 8 - bits);
  marker(0xd9); // EOI
  return new Uint8Array(out);
}
