//! Queue triggers, with the Storage queue extension's semantics: up to `batchSize` messages
//! fetched while no more than `newBatchThreshold` run, each handed to the handler; deleted on
//! success, made visible again after `visibilityTimeout` on failure, moved to `<queue>-poison`
//! once `maxDequeueCount` attempts have failed (one abandoned at shutdown is left to its lease);
//! polling backs off to `maxPollingInterval` while the queue is empty.

use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use tokio::sync::watch;

use super::config::QueueOptions;
use super::invoke::{InFlight, Invoker, Outcome};
use super::payload;
use crate::storage::connection::StorageConnection;
use crate::storage::message::{MessageEncoding, ReceivedMessage};
use crate::storage::queue::QueueClient;

/// The shortest pause between two polls of an empty queue.
const MIN_POLL: Duration = Duration::from_millis(100);

/// What to do with a message whose invocation failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AfterFailure {
    /// Make it visible again after `visibilityTimeout`.
    Retry,
    /// Move it to the poison queue: `maxDequeueCount` attempts have failed.
    Poison,
}

/// The poison decision: a message dequeued `dequeue_count` times has used its attempts once
/// that reaches `max_dequeue_count`.
pub fn after_failure(dequeue_count: u32, max_dequeue_count: u32) -> AfterFailure {
    if dequeue_count >= max_dequeue_count {
        AfterFailure::Poison
    } else {
        AfterFailure::Retry
    }
}

/// One queue-triggered function.
#[derive(Debug, Clone)]
pub struct QueueTrigger {
    pub function: String,
    pub binding: String,
    queue: Arc<QueueClient>,
    poison: Arc<QueueClient>,
    options: QueueOptions,
    /// How long a received message stays invisible while its invocation runs.
    lease: Duration,
}

impl QueueTrigger {
    /// The trigger of `function` on `queue_name` of connection setting `connection`.
    pub fn new(
        function: &str,
        binding: &str,
        queue_name: &str,
        connection: &str,
        options: &QueueOptions,
        lease: Duration,
    ) -> anyhow::Result<Self> {
        let storage = StorageConnection::from_settings(connection, |k| std::env::var(k).ok())?;
        let queue = QueueClient::new(&storage, queue_name, options.message_encoding)?;
        // The poison queue gets the stored text as it was: no re-encoding.
        let poison = QueueClient::new(
            &storage,
            &format!("{queue_name}-poison"),
            MessageEncoding::None,
        )?;
        Ok(Self {
            function: function.to_owned(),
            binding: binding.to_owned(),
            queue: Arc::new(queue),
            poison: Arc::new(poison),
            options: options.clone(),
            lease,
        })
    }

    /// Invokes the function with `text` as a message that is not on the queue (admin API).
    pub async fn invoke_text(&self, invoker: &Invoker, text: &str) -> bool {
        let now = Utc::now();
        let message = ReceivedMessage {
            id: uuid::Uuid::new_v4().to_string(),
            pop_receipt: String::new(),
            dequeue_count: 1,
            inserted_at: Some(now),
            expires_at: Some(now + chrono::Duration::days(7)),
            next_visible_at: Some(now),
            raw_text: text.to_owned(),
            encoding: MessageEncoding::None,
        };
        let body = payload::queue(&self.function, &self.binding, &message, text, now);
        invoker.invoke(&self.function, &body).await.is_success()
    }

    /// Polls until `stopping`.
    pub async fn run(self, invoker: Invoker, mut stopping: watch::Receiver<bool>) {
        if let Err(e) = self.queue.create_if_missing().await {
            tracing::warn!(function = %self.function, error = %e, "could not create the queue");
        }
        let running = InFlight::default();
        let most = u32::from(self.options.batch_size) + self.options.new_batch_threshold;
        let mut pause = MIN_POLL;
        tracing::info!(function = %self.function, queue = %self.queue.name(), "polling");
        while !*stopping.borrow() {
            let busy = u32::try_from(running.count()).unwrap_or(u32::MAX);
            let room = most
                .saturating_sub(busy)
                .min(u32::from(self.options.batch_size));
            if busy > self.options.new_batch_threshold || room == 0 {
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
            let batch = u8::try_from(room).unwrap_or(1);
            match self.queue.receive(batch, self.lease).await {
                Ok(messages) if !messages.is_empty() => {
                    pause = MIN_POLL;
                    for message in messages {
                        // Counted until deleted or released, so shutdown waits for that too.
                        let guards = (running.enter(), invoker.in_flight.enter());
                        let (this, invoker) = (self.clone(), invoker.clone());
                        tokio::spawn(async move {
                            this.process(&invoker, message).await;
                            drop(guards);
                        });
                    }
                    continue;
                }
                Ok(_) => {}
                Err(e) => tracing::warn!(function = %self.function, error = %e, "polling failed"),
            }
            tokio::select! {
                () = tokio::time::sleep(pause) => {}
                _ = stopping.wait_for(|stop| *stop) => {}
            }
            pause = (pause * 2).min(self.options.max_polling_interval);
        }
    }

    async fn process(&self, invoker: &Invoker, message: ReceivedMessage) {
        if message.dequeue_count > self.options.max_dequeue_count {
            return self.to_poison(&message).await;
        }
        let text = match message.text() {
            Ok(text) => text,
            Err(e) => {
                tracing::error!(function = %self.function, message_id = %message.id, error = %e,
                    "message cannot be decoded as {}", self.options.message_encoding);
                return self.to_poison(&message).await;
            }
        };
        let body = payload::queue(&self.function, &self.binding, &message, &text, Utc::now());
        let outcome = invoker.invoke(&self.function, &body).await;
        if outcome == Outcome::Abandoned {
            // Shutdown is no verdict on the message: neither released early nor poisoned, it
            // is delivered again when its lease ends.
            return;
        }
        if outcome.is_success() {
            if let Err(e) = self.queue.delete(&message.id, &message.pop_receipt).await {
                tracing::warn!(function = %self.function, message_id = %message.id, error = %e, "delete failed");
            }
            return;
        }
        match after_failure(message.dequeue_count, self.options.max_dequeue_count) {
            AfterFailure::Poison => self.to_poison(&message).await,
            AfterFailure::Retry => {
                let delay = self.options.visibility_timeout;
                if let Err(e) = self
                    .queue
                    .update_visibility(&message.id, &message.pop_receipt, delay)
                    .await
                {
                    tracing::warn!(function = %self.function, message_id = %message.id, error = %e, "could not release the message");
                }
            }
        }
    }

    async fn to_poison(&self, message: &ReceivedMessage) {
        let moved = async {
            self.poison.create_if_missing().await?;
            self.poison.send(&message.raw_text, None).await?;
            self.queue.delete(&message.id, &message.pop_receipt).await
        };
        match moved.await {
            Ok(()) => tracing::warn!(
                function = %self.function, message_id = %message.id,
                dequeue_count = message.dequeue_count, poison_queue = %self.poison.name(),
                "message moved to the poison queue"
            ),
            Err(e) => {
                tracing::error!(function = %self.function, message_id = %message.id, error = %e,
                "could not move the message to the poison queue")
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_message_is_poisoned_once_its_attempts_are_used() {
        assert_eq!(after_failure(1, 5), AfterFailure::Retry);
        assert_eq!(after_failure(4, 5), AfterFailure::Retry);
        assert_eq!(after_failure(5, 5), AfterFailure::Poison);
        assert_eq!(after_failure(1, 1), AfterFailure::Poison);
    }
}
