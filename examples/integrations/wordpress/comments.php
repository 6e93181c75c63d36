<?php
/*
 * Talkback comments for a WordPress theme: put this file in the theme as comments.php (keep
 * the theme's own as comments-wordpress.php if you may go back). Posts keep their URLs, so the
 * threads imported with `talkback import --format wordpress` appear under them.
 */
if ( post_password_required() ) {
	return;
}
?>
<div id="comments" class="comments-area">
	<script src="https://comments.example.com/embed.js" data-site="myblog" data-title="<?php echo esc_attr( get_the_title() ); ?>" data-lang="<?php echo esc_attr( substr( get_locale(), 0, 2 ) ); ?>" defer></script>
	<noscript><a href="https://comments.example.com/t/myblog?page=<?php echo rawurlencode( wp_make_link_relative( get_permalink() ) ); ?>">Read and write comments</a></noscript>
</div>
