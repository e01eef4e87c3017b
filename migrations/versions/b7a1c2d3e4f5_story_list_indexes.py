"""story list indexes for the API's sorts and filters

Every story list the REST API allows (published, drafts, one author, a
signed-in user's mix, an admin's list with deleted rows; newest or oldest
first) walks an index in keyset order (created_at, id), so each page reads
about `limit` rows at any table size.  The author index gains `id` so that
the keyset order needs no sort.

Revision ID: b7a1c2d3e4f5
Revises: 614a6dd11002
Create Date: 2026-11-24

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'b7a1c2d3e4f5'
down_revision = '614a6dd11002'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('story', schema=None) as batch_op:
        batch_op.drop_index('ix_story_author_created')
        batch_op.create_index('ix_story_author_created_id', ['author_id', 'created_at', 'id'], unique=False)
        batch_op.create_index('ix_story_created_id', ['created_at', 'id'], unique=False)
        batch_op.create_index('ix_story_drafts', ['created_at', 'id'], unique=False, sqlite_where=sa.text('NOT published AND deleted_at IS NULL'), postgresql_where=sa.text('NOT published AND deleted_at IS NULL'))
        batch_op.create_index('ix_story_live_created', ['created_at', 'id'], unique=False, sqlite_where=sa.text('deleted_at IS NULL'), postgresql_where=sa.text('deleted_at IS NULL'))


def downgrade():
    with op.batch_alter_table('story', schema=None) as batch_op:
        batch_op.drop_index('ix_story_live_created', sqlite_where=sa.text('deleted_at IS NULL'), postgresql_where=sa.text('deleted_at IS NULL'))
        batch_op.drop_index('ix_story_drafts', sqlite_where=sa.text('NOT published AND deleted_at IS NULL'), postgresql_where=sa.text('NOT published AND deleted_at IS NULL'))
        batch_op.drop_index('ix_story_created_id')
        batch_op.drop_index('ix_story_author_created_id')
        batch_op.create_index('ix_story_author_created', ['author_id', 'created_at'], unique=False)
