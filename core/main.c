/* SPDX-License-Identifier: Apache-2.0 */
/* placeholder until the daemon lands */
int main(void) { return 1; }
