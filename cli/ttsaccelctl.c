/* ttsaccelctl: placeholder. */
#include <stdio.h>

int
main(void)
{
	printf("ttsaccelctl %s\n", TTSACCEL_VERSION);
	return 0;
}
