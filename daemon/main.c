/* main: placeholder until the daemon lands. */
#include <stdio.h>

int
main(void)
{
	printf("ttsaccel %s\n", TTSACCEL_VERSION);
	return 0;
}
