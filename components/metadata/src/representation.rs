//! The JSON wire format of metadata as clients get it back (what they send is read by
//! [`Metadata::from_json`]).

use crate::controller::Page;
use crate::model::Metadata;
use serde::Serialize;

/// A movie's metadata as sent to clients (and as the movie service reads it).
#[derive(Debug, Serialize)]
pub struct MetadataView<'a> {
    pub id: &'a str,
    pub title: &'a str,
    pub description: &'a str,
    pub director: &'a str,
}

impl<'a> From<&'a Metadata> for MetadataView<'a> {
    fn from(metadata: &'a Metadata) -> Self {
        Self {
            id: metadata.id.as_str(),
            title: metadata.title.as_str(),
            description: metadata.description.as_str(),
            director: metadata.director.as_str(),
        }
    }
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PageView<'a> {
    pub items: Vec<MetadataView<'a>>,
    pub next_cursor: Option<String>,
}

impl<'a> From<&'a Page> for PageView<'a> {
    fn from(page: &'a Page) -> Self {
        Self {
            items: page.items.iter().map(MetadataView::from).collect(),
            next_cursor: page.next.as_ref().map(|cursor| cursor.encode()),
        }
    }
}

/// A movie as one line of an export: the same object as [`MetadataView`], owning its movie
/// because the lines outlive the page they were read in.
#[derive(Debug)]
pub struct MetadataLine(pub Metadata);

impl Serialize for MetadataLine {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        MetadataView::from(&self.0).serialize(serializer)
    }
}
