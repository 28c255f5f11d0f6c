/**
 * Parsers for command-line values shared by the commands (commander calls
 * them per flag; a bad value is a usage error naming what was expected).
 */
import { isIPv4 } from 'node:net';
import { InvalidArgumentError } from 'commander';

/** A parser for an integer within min..max. */
export function integer(min: number, max: number): (value: string) => number {
  return (value: string): number => {
    const n = Number(value);
    if (!Number.isInteger(n) || n < min || n > max)
      throw new InvalidArgumentError(`expected an integer ${min}..${max}`);
    return n;
  };
}

/** An IPv4 address, or "" for every interface. */
export function ipv4OrEmpty(value: string): string {
  if (value !== '' && !isIPv4(value))
    throw new InvalidArgumentError('expected an IPv4 address, or "" for all');
  return value;
}
