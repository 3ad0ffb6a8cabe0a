//! The relay module in an in-process node (`node-testkit`) with the real chain and
//! mempool modules and recording peers.

mod lagging_bus;
