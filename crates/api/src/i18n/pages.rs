//! The words of what the server renders as whole documents: feeds and the thread page for
//! readers without JavaScript, in every language of [`crate::i18n`]. Only the server uses
//! this table, so it costs the widget's download nothing (the widget's own words, which the
//! thread page shares, are [`crate::i18n::Strings`]).

/// The words of one language. `{name}` is a commenter, `{title}` a page's title, `{site}` a
/// site id.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PageTexts {
    pub lang: &'static str,
    /// A feed entry's title.
    pub feed_entry_title: &'static str,
    /// The feed of one page's comments.
    pub feed_of_page: &'static str,
    /// The feed of a site's newest comments.
    pub feed_of_site: &'static str,
    /// The thread page's link back to the post.
    pub back_to_post: &'static str,
    /// The label of the form's trap field, which only bots fill in.
    pub leave_empty: &'static str,
    /// The thread page's link to its feed.
    pub comments_feed: &'static str,
    /// After posting a comment that waits for a moderator.
    pub held_notice: &'static str,
    /// A page's count on an index page (count.js), as WordPress themes word it.
    pub responses_zero: &'static str,
    pub responses_one: &'static str,
    pub responses_many: &'static str,
}

pub const EN: PageTexts = PageTexts {
    lang: "en",
    feed_entry_title: "{name} on “{title}”",
    feed_of_page: "Comments on “{title}”",
    feed_of_site: "Latest comments on {site}",
    back_to_post: "← Back to the post",
    leave_empty: "Leave this empty",
    comments_feed: "Comments feed (Atom)",
    held_notice: "Thank you! Your comment is awaiting moderation and will appear once approved.",
    responses_zero: "No Responses",
    responses_one: "One Response",
    responses_many: "{n} Responses",
};

pub const DE: PageTexts = PageTexts {
    lang: "de",
    feed_entry_title: "{name} zu „{title}“",
    feed_of_page: "Kommentare zu „{title}“",
    feed_of_site: "Neueste Kommentare auf {site}",
    back_to_post: "← Zurück zum Beitrag",
    leave_empty: "Dieses Feld leer lassen",
    comments_feed: "Kommentar-Feed (Atom)",
    held_notice: "Danke! Ihr Kommentar wartet auf Freischaltung und erscheint, sobald er freigegeben ist.",
    responses_zero: "Keine Antworten",
    responses_one: "Eine Antwort",
    responses_many: "{n} Antworten",
};

pub const FR: PageTexts = PageTexts {
    lang: "fr",
    feed_entry_title: "{name} sur « {title} »",
    feed_of_page: "Commentaires sur « {title} »",
    feed_of_site: "Derniers commentaires sur {site}",
    back_to_post: "← Retour à l’article",
    leave_empty: "Laissez ce champ vide",
    comments_feed: "Flux des commentaires (Atom)",
    held_notice: "Merci ! Votre commentaire est en attente de modération et apparaîtra une fois approuvé.",
    responses_zero: "Aucune réponse",
    responses_one: "Une réponse",
    responses_many: "{n} réponses",
};

pub const ES: PageTexts = PageTexts {
    lang: "es",
    feed_entry_title: "{name} en «{title}»",
    feed_of_page: "Comentarios en «{title}»",
    feed_of_site: "Últimos comentarios en {site}",
    back_to_post: "← Volver a la entrada",
    leave_empty: "Deje este campo vacío",
    comments_feed: "Canal de comentarios (Atom)",
    held_notice: "¡Gracias! Su comentario está pendiente de moderación y aparecerá cuando se apruebe.",
    responses_zero: "Sin respuestas",
    responses_one: "Una respuesta",
    responses_many: "{n} respuestas",
};

pub const ALL: [&PageTexts; 4] = [&EN, &DE, &FR, &ES];

impl PageTexts {
    /// The table for a language tag such as `de-AT`; English when unknown.
    pub fn for_lang(tag: &str) -> &'static PageTexts {
        let lang = super::Strings::for_lang(tag).lang;
        ALL.iter().copied().find(|t| t.lang == lang).unwrap_or(&EN)
    }
}
