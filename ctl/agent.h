/* SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only */
/* The host agent's daemon side (ctl/agent_run.c), used by ctl/agent.c. */
#ifndef QLB_CTL_AGENT_H
#define QLB_CTL_AGENT_H

/* Run the agent on @cfg_path until SIGTERM/SIGINT. Return: exit code. */
int qlb_agent_run(const char *cfg_path);

/* Detach the decap program from host.interface and remove the pins. */
int qlb_agent_detach(const char *cfg_path);

#endif /* QLB_CTL_AGENT_H */
