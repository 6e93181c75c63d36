//! What the widget is told once, by the embed script's `data-*` attributes or a Leptos app.

use serde::Deserialize;
use talkback_api::i18n::Strings;

/// The widget's settings.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct WidgetConfig {
    /// Base URL of the Talkback server, without a trailing slash.
    pub api: String,
    pub site: String,
    /// The page key (the `data-page` attribute, else the page's path and query; the server
    /// normalises it with the site's page parameters).
    pub page: String,
    #[serde(default)]
    pub title: Option<String>,
    #[serde(default)]
    pub url: Option<String>,
    /// A language tag such as `de` or `fr-CA`.
    #[serde(default = "english")]
    pub lang: String,
}

fn english() -> String {
    "en".into()
}

impl WidgetConfig {
    pub fn strings(&self) -> &'static Strings {
        Strings::for_lang(&self.lang)
    }

    /// Prefix of every localStorage key of this page.
    pub(crate) fn storage_scope(&self) -> String {
        format!("talkback:{}:{}", self.site, self.page)
    }
}
