/** The agent's version, printed by `tvm-upload --version`. */
export const VERSION = '0.0.0';
