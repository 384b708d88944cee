//! Batched loading (DataLoader) for links between objects — a result's campaign, generated
//! domain or DNS result, a campaign's source campaign — and for `node`/`nodes`, so a page of
//! 1,000 rows asking for their campaign costs one query, not 1,000. Rows are loaded per
//! campaign (`campaign = $1 AND id IN (…)`), the primary key, so each batch touches one shard.

use std::collections::HashMap;
use std::hash::Hash;

use async_graphql::dataloader::{DataLoader, Loader};
use sea_orm::{ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter, QueryTrait};

use super::sql_shape;
use crate::db::Observer;
use uuid::Uuid;

use crate::entity::{campaign, dns_validation_result, generated_domain, http_keyword_result};
use crate::error::ApiError;

/// Loads rows by primary key in batches. No cache: every request sees current rows.
pub struct DbLoader {
    db: DatabaseConnection,
    observer: Observer,
}

/// The batching loader stored in the schema's data.
pub type AppLoader = DataLoader<DbLoader>;

impl DbLoader {
    /// A batching loader over `db`.
    pub fn new_loader(db: DatabaseConnection, observer: Observer) -> AppLoader {
        DataLoader::new(Self { db, observer }, tokio::spawn)
    }
}

/// Key of a campaign.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct CampaignKey(pub Uuid);

/// Key of a row of table `T` of a campaign: (campaign id, row id).
pub struct RowKey<T> {
    pub campaign: Uuid,
    pub id: Uuid,
    _table: std::marker::PhantomData<fn() -> T>,
}

// Written out because derives would demand the same traits of the table marker `T`.
impl<T> Clone for RowKey<T> {
    fn clone(&self) -> Self {
        *self
    }
}
impl<T> Copy for RowKey<T> {}
impl<T> PartialEq for RowKey<T> {
    fn eq(&self, other: &Self) -> bool {
        (self.campaign, self.id) == (other.campaign, other.id)
    }
}
impl<T> Eq for RowKey<T> {}
impl<T> Hash for RowKey<T> {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        (self.campaign, self.id).hash(state);
    }
}

impl<T> RowKey<T> {
    pub fn new(campaign: Uuid, id: Uuid) -> Self {
        Self {
            campaign,
            id,
            _table: std::marker::PhantomData,
        }
    }
}

impl Loader<CampaignKey> for DbLoader {
    type Value = campaign::Model;
    type Error = ApiError;

    async fn load(&self, keys: &[CampaignKey]) -> Result<HashMap<CampaignKey, Self::Value>, Self::Error> {
        let ids: Vec<Uuid> = keys.iter().map(|k| k.0).collect();
        let select = campaign::Entity::find().filter(campaign::Column::Id.is_in(ids));
        let rows = self
            .observer
            .run(
                "campaigns.load",
                |rows: &Vec<campaign::Model>| rows.len() as u64,
                || sql_shape(&select.clone().into_query(), self.db.get_database_backend()),
                || async { Ok(select.clone().all(&self.db).await?) },
            )
            .await?;
        Ok(rows.into_iter().map(|m| (CampaignKey(m.id), m)).collect())
    }
}

/// Loads `keys` of table `E` with one query per distinct campaign.
async fn load_rows<E, T>(
    db: &DatabaseConnection,
    observer: &Observer,
    query_type: &'static str,
    keys: &[RowKey<T>],
    campaign_column: E::Column,
    id_column: E::Column,
    key_of: fn(&E::Model) -> (Uuid, Uuid),
) -> Result<HashMap<RowKey<T>, E::Model>, ApiError>
where
    E: EntityTrait,
    RowKey<T>: Hash + Eq,
{
    let mut by_campaign: HashMap<Uuid, Vec<Uuid>> = HashMap::new();
    for key in keys {
        by_campaign.entry(key.campaign).or_default().push(key.id);
    }
    let mut found = HashMap::with_capacity(keys.len());
    for (campaign, ids) in by_campaign {
        let select = E::find()
            .filter(campaign_column.eq(campaign))
            .filter(id_column.is_in(ids));
        let rows = observer
            .run(
                query_type,
                |rows: &Vec<E::Model>| rows.len() as u64,
                || sql_shape(&select.clone().into_query(), db.get_database_backend()),
                || async { Ok(select.clone().all(db).await?) },
            )
            .await?;
        for row in rows {
            let (campaign, id) = key_of(&row);
            found.insert(RowKey::new(campaign, id), row);
        }
    }
    Ok(found)
}

macro_rules! row_loader {
    ($module:ident, $campaign_column:ident, $campaign_field:ident) => {
        impl Loader<RowKey<$module::Entity>> for DbLoader {
            type Value = $module::Model;
            type Error = ApiError;

            async fn load(
                &self,
                keys: &[RowKey<$module::Entity>],
            ) -> Result<HashMap<RowKey<$module::Entity>, Self::Value>, Self::Error> {
                load_rows::<$module::Entity, $module::Entity>(
                    &self.db,
                    &self.observer,
                    concat!(stringify!($module), "s.load"),
                    keys,
                    $module::Column::$campaign_column,
                    $module::Column::Id,
                    |m| (m.$campaign_field, m.id),
                )
                .await
            }
        }
    };
}

row_loader!(
    generated_domain,
    DomainGenerationCampaignId,
    domain_generation_campaign_id
);
row_loader!(dns_validation_result, DnsCampaignId, dns_campaign_id);
row_loader!(http_keyword_result, HttpKeywordCampaignId, http_keyword_campaign_id);
