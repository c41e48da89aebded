//! The workflow on values, end to end through the `churnkit` facade: training, evaluation and
//! decisions on generated tables, in memory, and what tracking and saving make of them.

mod decisions;
mod in_memory;
