/**
 * CRC-8/MAXIM (Dallas 1-Wire), the frame checksum of the protocol: polynomial
 * 0x31 reflected (0x8C), init 0x00, no final XOR, reflected in and out.
 * Check value: crc8 of ASCII "123456789" is 0xA1.
 */

/** One entry per byte value: the table makes the per-byte cost a lookup and an XOR. */
const TABLE: Uint8Array = (() => {
  const table = new Uint8Array(256);
  for (let i = 0; i < 256; i++) {
    let c = i;
    for (let bit = 0; bit < 8; bit++) c = c & 1 ? (c >>> 1) ^ 0x8c : c >>> 1;
    table[i] = c;
  }
  return table;
})();

/** CRC of `bytes[start, end)`; a range so the decoder can check a line in place without copying. */
export function crc8(bytes: Uint8Array, start = 0, end = bytes.length): number {
  let crc = 0;
  for (let i = start; i < end; i++) crc = TABLE[(crc ^ bytes[i]!) & 0xff]!;
  return crc;
}

/** The two upper-case hex digits the wire carries. */
export function crcHex(crc: number): string {
  return (crc & 0xff).toString(16).toUpperCase().padStart(2, '0');
}
