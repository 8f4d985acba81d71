#include "ratelimit/rlcell.h"

#include "algo/ratelimit.h"
#include "net/respd.h"

struct throttle_call {
	uint64_t now;
	int64_t burst, count, period, quantity;
	struct rl_cell_reply reply;
};

static uint64_t throttle(struct rl_state *st, void *arg)
{
	struct throttle_call *t = arg;
	return rl_cell_throttle(st, t->now, t->burst, t->count, t->period, t->quantity, &t->reply);
}

void rlcell_command(struct rl_table *table, const struct resp_command *cmd, uint64_t now_ns,
		    struct buf *out)
{
	struct throttle_call t = { .now = now_ns, .quantity = 1 };
	if (cmd->argc < 5 || cmd->argc > 6) {
		respd_wrong_arity(out, cmd);
		return;
	}
	if (resp_arg_int(&cmd->args[2], &t.burst) < 0 || resp_arg_int(&cmd->args[3], &t.count) < 0 ||
	    resp_arg_int(&cmd->args[4], &t.period) < 0 ||
	    (cmd->argc == 6 && resp_arg_int(&cmd->args[5], &t.quantity) < 0) ||
	    t.burst < 0 || t.count < 1 || t.period < 1 || t.quantity < 0 ||
	    t.burst > 1000000000 || t.count > 1000000000 || t.period > 100000000 ||
	    t.quantity > 1000000000) {
		resp_error(out, "ERR value is not an integer or out of range");
		return;
	}
	if (rl_table_apply(table, cmd->args[1].p, cmd->args[1].len, t.now, throttle, &t) < 0) {
		resp_error(out, "ERR out of memory");
		return;
	}
	resp_array(out, 5);
	resp_int(out, t.reply.limited);
	resp_int(out, t.reply.limit);
	resp_int(out, t.reply.remaining);
	resp_int(out, t.reply.retry_after_s);
	resp_int(out, t.reply.reset_after_s);
}

