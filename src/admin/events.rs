//! Rotation-event queries and commands: get, list, execute, retry, roll back.

use super::query::{self, EventQuery};
use super::views::EventJson;
use super::{Admin, AdminResult};

impl Admin {
    pub(crate) async fn event(&self, id: &str) -> AdminResult<EventJson> {
        let event = self.engine.get_event(id).await?;
        Ok(EventJson::new(&event, self.now()))
    }

    /// Events, newest first, as `query` selects.
    pub(crate) async fn events(&self, query: &EventQuery) -> AdminResult<Vec<EventJson>> {
        let events = self
            .engine
            .list_events(
                query.key.as_ref().map(|k| k.as_str()),
                query.status,
                query.limit.get(),
            )
            .await?;
        let now = self.now();
        Ok(events.iter().map(|e| EventJson::new(e, now)).collect())
    }

    /// Runs or continues an event now; `batch_size` 0 or absent keeps the event's own.
    pub(crate) async fn execute(
        &self,
        id: &str,
        batch_size: Option<u32>,
        actor: &str,
    ) -> AdminResult<EventJson> {
        let batch_size = query::batch_size(batch_size)?;
        let event = self.engine.execute(id, batch_size, actor).await?;
        Ok(EventJson::new(&event, self.now()))
    }

    pub(crate) async fn retry(&self, id: &str, actor: &str) -> AdminResult<EventJson> {
        let event = self.engine.retry(id, actor).await?;
        Ok(EventJson::new(&event, self.now()))
    }

    pub(crate) async fn rollback_event(&self, id: &str, actor: &str) -> AdminResult<EventJson> {
        let event = self.engine.rollback_event(id, actor).await?;
        Ok(EventJson::new(&event, self.now()))
    }
}
