"""email confirmed at

`user_account.email_confirmed_at`: when the owner proved the address
(confirmation or password-reset link).  Accounts made before this migration
registered without confirmation and keep signing in: they are marked
confirmed at their creation time.  Downgrade drops the column.

Revision ID: d2e3f4a5b6c7
Revises: c1d2e3f4a5b6
Create Date: 2026-12-07

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'd2e3f4a5b6c7'
down_revision = 'c1d2e3f4a5b6'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('user_account', schema=None) as batch_op:
        batch_op.add_column(sa.Column('email_confirmed_at', sa.DateTime(timezone=True), nullable=True))
    op.execute("UPDATE user_account SET email_confirmed_at = created_at")


def downgrade():
    with op.batch_alter_table('user_account', schema=None) as batch_op:
        batch_op.drop_column('email_confirmed_at')
