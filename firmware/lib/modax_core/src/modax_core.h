// modax_core: the portable logic of the modax field device (no Arduino dependency).
#pragma once

#include "modax/backoff.h"
#include "modax/clock.h"
#include "modax/command.h"
#include "modax/conversions.h"
#include "modax/device_safety.h"
#include "modax/limits.h"
#include "modax/outbox.h"
#include "modax/payload.h"
#include "modax/reading.h"
#include "modax/ring_buffer.h"
#include "modax/safety.h"
#include "modax/sequence.h"
